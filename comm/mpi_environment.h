// MpiEnvironment: RAII ownership of the MPI library for one process. main() creates exactly one
// (a second one, or one created after MPI was initialised elsewhere, throws); it must outlive
// every communicator. Works under mpirun/srun and as an MPI singleton (started without a
// launcher: size 1).
//
// Thread level: we request MPI_THREAD_MULTIPLE and refuse to start with less. Collectives of a
// Communicator run on one thread at a time (the MPI backend's communication thread, or the
// caller after the queue drained), but the watchdog thread must be able to call MPI_Abort while
// another thread is blocked inside a collective, and other components (metrics, checkpoints)
// may use their own duplicated communicators from other threads; only MULTIPLE makes both legal.
// See docs/distributed.md.
//
// Errors: MPI_ERRORS_RETURN is set on MPI_COMM_WORLD and MPI_COMM_SELF, and every communicator
// duplicated from them inherits it, so TESSERA_CHECK_MPI sees failures instead of MPI aborting.
//
// Destruction calls MPI_Finalize, except while an exception is unwinding the stack: then other
// ranks may be waiting in a collective that will never complete, so it calls MPI_Abort instead
// (a finalize would hang the job).
#pragma once

#include <mpi.h>

#include <string>

namespace tessera {

class MpiEnvironment {
 public:
  // argc/argv may be null. Throws tessera::Error when MPI is already initialised or the
  // provided thread level is below MPI_THREAD_MULTIPLE.
  MpiEnvironment(int* argc = nullptr, char*** argv = nullptr);
  ~MpiEnvironment();
  MpiEnvironment(const MpiEnvironment&) = delete;
  MpiEnvironment& operator=(const MpiEnvironment&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }  // rank among processes sharing memory (host)
  int local_size() const { return local_size_; }
  int thread_level() const { return thread_level_; }
  const std::string& hostname() const { return hostname_; }

  // A new duplicate of MPI_COMM_WORLD with MPI_ERRORS_RETURN; the caller owns it (MpiComm).
  MPI_Comm dup_world() const;

  // Ends every rank now: prints `why` on stderr (prefixed with the rank), MPI_Abort on world.
  // Callable from any thread. Never returns.
  [[noreturn]] void abort(int code, const std::string& why) const;

 private:
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
  int thread_level_ = MPI_THREAD_SINGLE;
  std::string hostname_;
};

// RAII owner of one MPI communicator (MPI_Comm_free on destruction). Move-only.
class MpiComm {
 public:
  MpiComm() = default;
  explicit MpiComm(MPI_Comm comm) : comm_(comm) {}
  ~MpiComm();
  MpiComm(MpiComm&& other) noexcept : comm_(other.comm_) { other.comm_ = MPI_COMM_NULL; }
  MpiComm& operator=(MpiComm&& other) noexcept;
  MpiComm(const MpiComm&) = delete;
  MpiComm& operator=(const MpiComm&) = delete;

  MPI_Comm get() const { return comm_; }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
};

// Writes "tessera: rank R: <why>" to stderr with write(2) (no locks, usable from any thread),
// then MPI_Abort(MPI_COMM_WORLD, code); falls back to std::abort if MPI_Abort returns.
[[noreturn]] void mpi_abort_world(int code, const std::string& why);

// Name of an MPI thread level ("MPI_THREAD_MULTIPLE", ...).
const char* mpi_thread_level_name(int level);

}  // namespace tessera
