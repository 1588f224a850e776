// Stop requests from the batch system: SIGTERM and SIGUSR1 set a flag and nothing else.
//
// Slurm warns a job before its time limit or preemption (`#SBATCH --signal=B:USR1@60`); the job
// script passes USR1 on to mpirun or srun, which forward it to every rank (OpenMPI's mpirun
// forwards SIGUSR1/SIGUSR2 by default; on SIGTERM it kills the ranks instead, so the scripts in
// jobs/ turn TERM into USR1). A training loop checks stop_signal_received() once per step, agrees
// with the other ranks of its loop (allreduce max over the loop's communicator, so that every rank
// stops at the same step), writes a checkpoint, logs
//   "stopped by signal N at step S; checkpoint written: PATH; resume with the same command"
// calls note_stopped_with_checkpoint() and returns normally. main() then ends the job with exit
// status 3 (ril::ExitCode::kStoppedResumable; every rank agrees, see dist::agree_on_status), and
// the job script requeues the job on that status only; the requeued job resumes.
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

// A job that stopped on a signal AFTER writing its checkpoint says so (on the ranks that
// stopped; the others may return as usual): the process then exits with status 3, "resumable".
// Never call it when the run finished anyway or no checkpoint was written.
void note_stopped_with_checkpoint();
bool stopped_with_checkpoint();

// For tests: clear the flags.
void reset_stop_signal_for_tests();

}  // namespace ril
