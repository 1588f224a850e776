#include "ril/dist/device.h"

#include <ATen/detail/CUDAHooksInterface.h>

#include <cstdlib>

#include "mpi_check.h"

namespace ril::dist {

int detect_local_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID", "PMI_LOCAL_RANK"}) {
    if (const char* value = std::getenv(name)) return std::atoi(value);
  }
  MPI_Comm node;
  RIL_MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
  int local = 0;
  MPI_Comm_rank(node, &local);
  MPI_Comm_free(&node);
  return local;
}

int cuda_device_count() { return at::detail::getCUDAHooks().getNumGPUs(); }

at::Device select_device(const std::string& request, int local_rank) {
  const int gpus = cuda_device_count();
  if (request == "cpu") return at::kCPU;
  if (request == "auto") {
    if (gpus == 0) return at::kCPU;
    return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(local_rank % gpus));
  }
  if (request.rfind("cuda", 0) == 0) {
    if (gpus == 0) {
      throw ConfigError(cat("--device ", request, " asked for a GPU, but ",
                            at::hasCUDA() ? "no CUDA device is visible" : "this build of LibTorch has no CUDA",
                            " (use --device cpu or auto)"));
    }
    if (request == "cuda") return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(local_rank % gpus));
    at::Device device = at::kCPU;
    try {
      device = at::Device(request);
    } catch (const std::exception&) {
      throw ConfigError(cat("malformed --device '", request, "' (expected auto, cpu, cuda or cuda:N)"));
    }
    if (device.index() >= gpus) {
      throw ConfigError(cat("--device ", request, ": only ", gpus, " CUDA device(s) visible"));
    }
    return device;
  }
  throw ConfigError(cat("unknown --device '", request, "' (expected auto, cpu, cuda or cuda:N)"));
}

std::string device_text(const at::Device& device) { return device.str(); }

}  // namespace ril::dist
