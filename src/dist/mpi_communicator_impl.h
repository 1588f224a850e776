// Private to src/dist: the state behind MpiCommunicator.
#pragma once

#include <mpi.h>

#include "ril/dist/mpi_communicator.h"

namespace ril::dist {

struct MpiCommunicator::Impl {
  MPI_Comm comm = MPI_COMM_NULL;  // owned: freed in ~MpiCommunicator unless it is MPI_COMM_WORLD
  at::Device device = at::kCPU;   // where recv() allocates
  int rank = 0;
  int size = 1;
};

}  // namespace ril::dist
