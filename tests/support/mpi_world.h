// Helpers for the tests that run under mpirun (tests/mpi/): this process's place in the world and
// a communicator over all of it.
#pragma once

#include <mpi.h>

#include <memory>
#include <string>
#include <vector>

#include "ril/dist/communicator_factory.h"

namespace ril::test {

inline int world_size() {
  int n = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

inline int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

// A communicator over every world rank, chosen by the factory for `payload` as on CPU ranks
// (MPI, or local with one rank). Collective over the world.
inline std::unique_ptr<dist::Communicator> world_communicator(const std::string& name, dist::Payload payload) {
  std::vector<int> all;
  std::vector<dist::RankPlacement> where(static_cast<size_t>(world_size()));
  for (int r = 0; r < world_size(); ++r) {
    all.push_back(r);
    where[static_cast<size_t>(r)].world_rank = r;
  }
  return dist::create_communicator({name, all, dist::CommBackend::kAuto, payload}, where, world_rank());
}

}  // namespace ril::test
