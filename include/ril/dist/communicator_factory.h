// Picks the Communicator implementation for a set of ranks, and says why in the log:
//   one member                                   -> LocalCommunicator (colocated roles, no copy)
//   --comm mpi                                   -> MpiCommunicator (asked for)
//   every member on its own GPU, NCCL built in   -> NcclCommunicator
//   otherwise                                    -> MpiCommunicator (CPU ranks, or ranks sharing
//                                                   a GPU: host-staged)
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ril/dist/communicator.h"
#include "ril/dist/device.h"

namespace ril::dist {

enum class CommBackend { kAuto, kMpi, kNccl };
CommBackend parse_comm_backend(const std::string& text);  // "auto" | "mpi" | "nccl"

struct CommunicatorRequest {
  std::string name;                     // for logs and errors: "weights", "group:learner"
  std::vector<int> members;             // world ranks, ascending; member i gets rank i
  CommBackend backend = CommBackend::kAuto;
};

// Collective over MPI_COMM_WORLD: every world rank calls it with the same request and the same
// placement table (one entry per world rank). Returns nullptr on ranks that are not members.
std::unique_ptr<Communicator> create_communicator(const CommunicatorRequest& request,
                                                  const std::vector<RankPlacement>& placements, int world_rank);

// Why the factory would choose what it chooses (also used by the role map printout).
std::string backend_reason(const CommunicatorRequest& request, const std::vector<RankPlacement>& placements,
                           const char** backend);

}  // namespace ril::dist
