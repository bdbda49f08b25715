# One precompiled header of <torch/torch.h> shared by every LibTorch-using target (a LibTorch
# header costs ~15 s per translation unit to parse; with the PCH ~6 s). Targets opt in with
# tessera_use_torch_pch(<target>). Disable with -DTESSERA_PCH=OFF.
option(TESSERA_PCH "Precompile the LibTorch headers" ON)

add_library(tessera_pch STATIC ${CMAKE_SOURCE_DIR}/cmake/pch.cpp)
target_link_libraries(tessera_pch PUBLIC tessera_torch)
if(TESSERA_PCH)
  target_precompile_headers(tessera_pch PRIVATE <torch/torch.h>)
endif()

function(tessera_use_torch_pch target)
  if(TESSERA_PCH)
    target_precompile_headers(${target} REUSE_FROM tessera_pch)
  endif()
endfunction()
