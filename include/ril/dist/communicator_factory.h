// Picks the Communicator implementation for a set of ranks and the kind of message it carries,
// and says why in the log:
//   host data (texts, scores, statistics):
//     one member                                 -> LocalCommunicator
//     otherwise                                  -> MpiCommunicator, whatever --comm says: NCCL
//                                                   carries device tensors only (DESIGN.md 2)
//   device tensors (weights, gradients):
//     one member                                 -> LocalCommunicator (colocated roles, no copy)
//     --comm mpi                                 -> MpiCommunicator (asked for)
//     every member on its own GPU, NCCL built in -> NcclCommunicator
//     otherwise                                  -> MpiCommunicator (CPU ranks, or ranks sharing
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

// What a communicator carries. Host data lives in host memory (CPU tensors of packed bytes or
// float64 statistics) and must never be handed to NCCL, which moves device memory only.
enum class Payload { kDeviceTensors, kHostData };
const char* payload_name(Payload payload);  // "device", "host"

struct CommunicatorRequest {
  std::string name;                     // for logs and errors: "weights", "group:learner"
  std::vector<int> members;             // world ranks, ascending; member i gets rank i
  CommBackend backend = CommBackend::kAuto;
  Payload payload = Payload::kDeviceTensors;
};

// Collective over MPI_COMM_WORLD: every world rank calls it with the same request and the same
// placement table (one entry per world rank). Returns nullptr on ranks that are not members.
std::unique_ptr<Communicator> create_communicator(const CommunicatorRequest& request,
                                                  const std::vector<RankPlacement>& placements, int world_rank);

// Why the factory would choose what it chooses (also used by the role map printout).
std::string backend_reason(const CommunicatorRequest& request, const std::vector<RankPlacement>& placements,
                           const char** backend);

}  // namespace ril::dist
