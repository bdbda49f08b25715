// Running the cluster tools (sbatch, scontrol, squeue) and handing the process over to mpirun.
//
// run_command() starts argv[0] (looked up in PATH) with stdin from /dev/null, collects stdout and
// stderr separately, and waits at most `timeout_s` seconds: past that the child gets SIGKILL and
// the result says timed_out. A program that cannot be started (not installed, not executable)
// throws tessera::Error naming it. The child's descriptors are closed on every path (RAII).
//
// exec_command() replaces this process with argv (execvp) after setting the given environment
// variables, so signals sent to our PID reach the new program (mpirun) directly. It returns only
// by throwing, when the exec fails.
//
// supervise_command() starts argv as a child (after setting the environment variables) and waits
// for it, forwarding SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to our PID (by
// kill(1), scancel, a batch shell); signals the terminal raised reach the child's process group
// by themselves and are not sent twice. Should the supervisor be killed, the child gets SIGTERM
// (PR_SET_PDEATHSIG). Returns the child's exit status, or 128 + the signal that ended it; throws
// when the program cannot be started. Its caller can then check what the exit status alone does
// not tell (`tessera launch`: that the training reached its end, trainer/run_outcome.h).
//
// All three are safe to call from one thread at a time (they fork).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace tessera {

struct CommandResult {
  int exit_code = -1;  // the exit status; -1 when killed by a signal or timed out
  int signal = 0;      // the signal that ended it, if any
  bool timed_out = false;
  std::string out;
  std::string err;

  bool ok() const { return exit_code == 0; }
};

CommandResult run_command(const std::vector<std::string>& argv, double timeout_s);

int supervise_command(const std::vector<std::string>& argv,
                      const std::vector<std::pair<std::string, std::string>>& env);

[[noreturn]] void exec_command(const std::vector<std::string>& argv,
                               const std::vector<std::pair<std::string, std::string>>& env);

// Absolute path of the running executable (/proc/self/exe).
std::string current_executable();

}  // namespace tessera
