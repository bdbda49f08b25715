// Anchor translation unit of the shared LibTorch precompiled header (cmake/precompiled.cmake).
