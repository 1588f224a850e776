// Where a rank computes. The GPU comes from the rank's local index on its node
// (OMPI_COMM_WORLD_LOCAL_RANK, SLURM_LOCALID, MPI_LOCALRANKID, or an MPI shared-memory split),
// modulo the GPUs visible, so several ranks may share one GPU.
#pragma once

#include <ATen/ATen.h>

#include <string>

namespace ril::dist {

struct RankPlacement {
  int world_rank = 0;
  int local_rank = 0;
  std::string host;
  at::Device device = at::kCPU;
};

// Local rank from the launcher's environment; falls back to an MPI shared-memory split
// (collective over the world in that case only, so call it on every rank).
int detect_local_rank();
int cuda_device_count();
// `request`: "auto" (GPU when there is one), "cpu", "cuda" (error without a GPU), or "cuda:N".
at::Device select_device(const std::string& request, int local_rank);
std::string device_text(const at::Device& device);  // "cpu", "cuda:1"

}  // namespace ril::dist
