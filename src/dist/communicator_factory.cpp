#include "ril/dist/communicator_factory.h"

#include <algorithm>
#include <set>

#include "mpi_check.h"
#include "ril/common/build_info.h"
#include "mpi_communicator_impl.h"
#include "ril/common/logging.h"
#include "ril/dist/local_communicator.h"
#include "ril/dist/nccl_communicator.h"

namespace ril::dist {

CommBackend parse_comm_backend(const std::string& text) {
  if (text == "auto") return CommBackend::kAuto;
  if (text == "mpi") return CommBackend::kMpi;
  if (text == "nccl") return CommBackend::kNccl;
  throw ConfigError(cat("unknown --comm '", text, "' (expected auto, mpi or nccl)"));
}

const char* payload_name(Payload payload) { return payload == Payload::kHostData ? "host" : "device"; }

std::string backend_reason(const CommunicatorRequest& request, const std::vector<RankPlacement>& placements,
                           const char** backend) {
  if (request.payload == Payload::kHostData) {
    *backend = request.members.size() == 1 ? "local" : "mpi";
    return request.members.size() == 1 ? "host data, one rank: no copies"
                                       : "host data (texts, scores, statistics): always MPI, never NCCL";
  }
  if (request.members.size() == 1 && request.backend != CommBackend::kNccl) {
    *backend = "local";
    return "one rank holds every member role: no copies";
  }
  bool all_cuda = true;
  std::set<std::pair<std::string, int>> gpus;
  std::string shared;
  for (int r : request.members) {
    const RankPlacement& p = placements.at(r);
    if (!p.device.is_cuda()) {
      all_cuda = false;
      continue;
    }
    if (!gpus.insert({p.host, p.device.index()}).second && shared.empty()) {
      shared = cat(p.device.str(), " on ", p.host);
    }
  }
  if (request.backend == CommBackend::kMpi) {
    *backend = "mpi";
    return "--comm mpi";
  }
  if (!all_cuda) {
    if (request.backend == CommBackend::kNccl) {
      throw ConfigError(cat("--comm nccl, but communicator '", request.name, "' has CPU ranks"));
    }
    *backend = "mpi";
    return "CPU ranks";
  }
  if (request.backend == CommBackend::kNccl && request.members.size() == 1 && nccl_available()) {
    *backend = "nccl";
    return "--comm nccl (one rank: exercises NCCL on its own GPU)";
  }
  if (!shared.empty()) {
    if (request.backend == CommBackend::kNccl) {
      throw ConfigError(cat("--comm nccl, but ranks of communicator '", request.name, "' share ", shared,
                            " (NCCL needs one GPU per rank); use --comm auto"));
    }
    *backend = "mpi";
    return cat("ranks share ", shared, ": MPI, host-staged through pinned memory");
  }
  if (!nccl_available()) {
    if (request.backend == CommBackend::kNccl) {
      throw ConfigError("--comm nccl, but this build has no NCCL (configure with -DRIL_CUDA=ON)");
    }
    *backend = "mpi";
    return "built without NCCL: MPI, host-staged";
  }
  *backend = "nccl";
  return "every rank on its own GPU";
}

std::unique_ptr<Communicator> create_communicator(const CommunicatorRequest& request,
                                                  const std::vector<RankPlacement>& placements, int world_rank) {
  RIL_CHECK(!request.members.empty(), "communicator '", request.name, "' has no members");
  RIL_CHECK(std::is_sorted(request.members.begin(), request.members.end()), "communicator '", request.name,
            "': members must be ascending world ranks");
  const auto it = std::find(request.members.begin(), request.members.end(), world_rank);
  const bool member = it != request.members.end();
  const char* backend = "mpi";
  const std::string reason = backend_reason(request, placements, &backend);
  const bool needs_mpi_comm = std::string(backend) != "local";

  // Collective on every world rank, members or not (MPI_Comm_split's contract).
  MPI_Comm comm = MPI_COMM_NULL;
  if (needs_mpi_comm) {
    const int color = member ? 1 : MPI_UNDEFINED;
    const int key = member ? static_cast<int>(it - request.members.begin()) : 0;
    RIL_MPI_CHECK(MPI_Comm_split(MPI_COMM_WORLD, color, key, &comm));
  }
  if (!member) return nullptr;

  std::unique_ptr<Communicator> out;
  if (!needs_mpi_comm) {
    out = std::make_unique<LocalCommunicator>(request.name);
  } else {
    auto impl = std::make_unique<MpiCommunicator::Impl>();
    impl->comm = comm;
    impl->device = placements.at(world_rank).device;
    if (std::string(backend) == "nccl") {
#if RIL_WITH_CUDA
      out = std::make_unique<NcclCommunicator>(request.name, std::move(impl));
#endif
    } else {
      out = std::make_unique<MpiCommunicator>(request.name, std::move(impl));
    }
  }
  if (out->rank() == 0) {
    log_debug("comm", "communicator '", request.name, "': ", out->backend(), " over ", request.members.size(),
              " rank(s) (", reason, ")");
  }
  return out;
}

}  // namespace ril::dist
