// Stop requests from the batch system: SIGTERM and SIGUSR1 set a flag and nothing else.
//
// Slurm warns a job before its time limit or preemption (`#SBATCH --signal=B:USR1@60`); the job
// script passes USR1 on to mpirun or srun, which forward it to every rank (OpenMPI's mpirun
// forwards SIGUSR1/SIGUSR2 by default; on SIGTERM it kills the ranks instead, so the scripts in
// jobs/ turn TERM into USR1). A training loop checks stop_signal_received() once per step, agrees
// with the other ranks of its loop (allreduce max over the loop's communicator, so that every rank
// stops at the same step), writes a checkpoint, logs
//   "stopped by signal N at step S; checkpoint written: PATH; resume with the same command"
// and returns normally (exit 0); the job script then requeues the job, which resumes.
//
// Which ranks call: any; install once per process after MPI_Init (MPI may install its own
// handlers for other signals). The handlers are process-wide.
#pragma once

namespace ril {

// Installs async-signal-safe handlers for SIGTERM and SIGUSR1 that only set a flag (idempotent).
void install_stop_signal_handlers();

// True once SIGTERM or SIGUSR1 has arrived in this process.
bool stop_signal_received();

// The signal number that arrived first (0: none).
int stop_signal_number();

// For tests: clear the flag.
void reset_stop_signal_for_tests();

}  // namespace ril
