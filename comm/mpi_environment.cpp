#include "comm/mpi_environment.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "common/check_mpi.h"

namespace tessera {

const char* mpi_thread_level_name(int level) {
  switch (level) {
    case MPI_THREAD_SINGLE: return "MPI_THREAD_SINGLE";
    case MPI_THREAD_FUNNELED: return "MPI_THREAD_FUNNELED";
    case MPI_THREAD_SERIALIZED: return "MPI_THREAD_SERIALIZED";
    case MPI_THREAD_MULTIPLE: return "MPI_THREAD_MULTIPLE";
    default: return "unknown MPI thread level";
  }
}

void mpi_abort_world(int code, const std::string& why) {
  int initialized = 0;
  int finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  int rank = -1;
  if (initialized && !finalized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::string line = fmt::format("tessera: rank {}: {}\n", rank, why);
  // write(2): no stdio locks, so safe even when another thread holds them.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
  if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, code == 0 ? 1 : code);
  std::abort();
}

MpiEnvironment::MpiEnvironment(int* argc, char*** argv) {
  int initialized = 0;
  TESSERA_CHECK_MPI(MPI_Initialized(&initialized));
  TESSERA_CHECK(!initialized,
                "MPI is already initialised: create exactly one MpiEnvironment, in main()");
  int provided = MPI_THREAD_SINGLE;
  int rc = MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided);
  TESSERA_CHECK(rc == MPI_SUCCESS, "MPI_Init_thread failed (code {}); is the MPI installation "
                "usable (try `mpirun -np 1 hostname`)?", rc);
  thread_level_ = provided;
  if (provided < MPI_THREAD_MULTIPLE) {
    MPI_Finalize();
    TESSERA_THROW("MPI provides only {} but tessera needs MPI_THREAD_MULTIPLE (the watchdog "
                  "aborts from its own thread while a collective runs). Use an MPI built with "
                  "thread-multiple support (OpenMPI: `ompi_info | grep -i thread`)",
                  mpi_thread_level_name(provided));
  }
  TESSERA_CHECK_MPI(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  TESSERA_CHECK_MPI(MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN));
  TESSERA_CHECK_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
  TESSERA_CHECK_MPI(MPI_Comm_size(MPI_COMM_WORLD, &size_));

  MPI_Comm node = MPI_COMM_NULL;
  TESSERA_CHECK_MPI(
      MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node));
  MpiComm node_owner(node);
  TESSERA_CHECK_MPI(MPI_Comm_rank(node, &local_rank_));
  TESSERA_CHECK_MPI(MPI_Comm_size(node, &local_size_));

  char name[MPI_MAX_PROCESSOR_NAME];
  int len = 0;
  TESSERA_CHECK_MPI(MPI_Get_processor_name(name, &len));
  hostname_.assign(name, static_cast<size_t>(len));
}

MpiEnvironment::~MpiEnvironment() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  if (std::uncaught_exceptions() > 0) {
    mpi_abort_world(1, "MpiEnvironment destroyed while an exception propagates; aborting the "
                       "job instead of finalising (other ranks could wait forever)");
  }
  MPI_Finalize();
}

MPI_Comm MpiEnvironment::dup_world() const {
  MPI_Comm comm = MPI_COMM_NULL;
  TESSERA_CHECK_MPI(MPI_Comm_dup(MPI_COMM_WORLD, &comm));
  // Inherited from world, but set explicitly: the contract of TESSERA_CHECK_MPI depends on it.
  TESSERA_CHECK_MPI(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN));
  return comm;
}

void MpiEnvironment::abort(int code, const std::string& why) const { mpi_abort_world(code, why); }

MpiComm::~MpiComm() {
  if (comm_ != MPI_COMM_NULL) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }
}

MpiComm& MpiComm::operator=(MpiComm&& other) noexcept {
  if (this != &other) {
    MpiComm tmp(std::move(*this));
    comm_ = other.comm_;
    other.comm_ = MPI_COMM_NULL;
  }
  return *this;
}

}  // namespace tessera
