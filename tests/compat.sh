# OpenMPI 4 / 5 differences the shell tests meet, in one place (sourced). The C++ side of the same
# compatibility layer is common/compat.h; docs/testing.md lists both.
#  - OpenMPI 5's `mpirun` execs PRRTE's `prterun`: after `exec mpirun ...` the process's command
#    line names prterun (OpenMPI 4: mpirun). is_mpi_launcher NAME accepts either.
#  - PRRTE wraps its help messages at about 70 columns, so a sentence such as "mpirun noticed that
#    process rank 1 ... exited on signal 9 (Killed)." (OpenMPI 4, one line) may be split over two
#    lines and starts with "prterun noticed". mpi_log_text FILE prints the file with line breaks
#    and runs of blanks folded into single spaces; match regexes against that, and write
#    "(mpirun|prterun)" (or MPI_LAUNCHER_RE) for the launcher's name.
#  - The program mpirun starts its remote daemons with (ssh by default) is the MCA parameter
#    plm_rsh_agent in OpenMPI 4 (OMPI_MCA_plm_rsh_agent) and PRRTE's plm_ssh_agent in OpenMPI 5
#    (PRTE_MCA_plm_ssh_agent; the OMPI_MCA_ name is silently ignored there). mpi_use_rsh_agent
#    PROGRAM exports both.
MPI_LAUNCHER_RE='(mpirun|orterun|prterun)'

is_mpi_launcher() { case ${1##*/} in mpirun | orterun | prterun) return 0 ;; *) return 1 ;; esac; }

mpi_log_text() { tr -s '\n\t ' '   ' <"$1"; echo; }

mpi_use_rsh_agent() { export OMPI_MCA_plm_rsh_agent=$1 PRTE_MCA_plm_ssh_agent=$1; }
