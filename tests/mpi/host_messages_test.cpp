// Host messages between real MPI processes (dist/host_messages.h, dist/agreement.h): bytes and
// texts (empty, non-ASCII, 1 MB) broadcast, gathered and relayed; small structs; float64
// statistics; one verdict for all ranks. ctest runs this under mpirun -np 1, 2, 3 and 4.
#include <gtest/gtest.h>
#include <mpi.h>

#include <string>
#include <vector>

#include "ril/common/error.h"
#include "ril/dist/agreement.h"
#include "ril/dist/communicator_factory.h"
#include "ril/dist/host_messages.h"
#include "support/mpi_world.h"

namespace {

using ril::test::world_rank;
using ril::test::world_size;

// A host communicator over every rank of the world (MPI, or local with one rank).
std::unique_ptr<ril::dist::Communicator> world_host() {
  return ril::test::world_communicator("host-test", ril::dist::Payload::kHostData);
}

// Rank r's message: empty on rank 1, 1 MB on rank 2, non-ASCII elsewhere.
std::string message_of(int rank) {
  if (rank == 1) return "";
  if (rank == 2) return std::string(1 << 20, static_cast<char>('a' + rank));
  return "rank " + std::to_string(rank) + ": Gr\xc3\xbc\xc3\x9f" "e \xe4\xb8\x96 \xf0\x9f\x99\x82 \xff";
}

TEST(HostMessages, BroadcastGatherAndRelayCarryAnyBytes) {
  auto comm = world_host();
  EXPECT_STREQ(comm->backend(), world_size() == 1 ? "local" : "mpi");
  for (int root = 0; root < comm->size(); ++root) {
    EXPECT_EQ(ril::dist::broadcast_bytes(*comm, comm->rank() == root ? message_of(root) : "junk", root),
              message_of(root));
    const std::vector<std::string> got = ril::dist::gather_bytes(*comm, message_of(comm->rank()), root);
    if (comm->rank() == root) {
      ASSERT_EQ(got.size(), static_cast<size_t>(comm->size()));
      for (int r = 0; r < comm->size(); ++r) EXPECT_EQ(got[static_cast<size_t>(r)], message_of(r));
    } else {
      EXPECT_TRUE(got.empty());
    }
  }
  const int last = comm->size() - 1;
  if (comm->rank() == 0 || comm->rank() == last) {
    const std::string got = ril::dist::relay_bytes(*comm, comm->rank() == 0 ? message_of(2) : "", 0, last);
    if (comm->rank() == last) EXPECT_EQ(got, message_of(2));
  }
  comm->barrier();
}

TEST(HostMessages, TextsValuesAndStatistics) {
  auto comm = world_host();
  const std::vector<std::string> texts = {"", message_of(0), message_of(2), "last"};
  EXPECT_EQ(ril::dist::broadcast_texts(*comm, comm->rank() == 0 ? texts : std::vector<std::string>{}, 0), texts);
  struct Verdict {
    int64_t step;
    double value;
  };
  const Verdict v = ril::dist::broadcast_value(*comm, Verdict{comm->rank() == 0 ? 42 : -1, 0.5}, 0);
  EXPECT_EQ(v.step, 42);
  const std::vector<int64_t> ids = ril::dist::broadcast_vector(
      *comm, comm->rank() == 0 ? std::vector<int64_t>{3, 1, 4} : std::vector<int64_t>{}, 0);
  EXPECT_EQ(ids, (std::vector<int64_t>{3, 1, 4}));
  const double n = world_size();
  const std::vector<double> sum = ril::dist::allreduce_values(*comm, {1.0, static_cast<double>(comm->rank())},
                                                              ril::dist::ReduceOp::kSum);
  EXPECT_EQ(sum, (std::vector<double>{n, n * (n - 1) / 2}));
  EXPECT_EQ(ril::dist::allreduce_values(*comm, {static_cast<double>(comm->rank())}, ril::dist::ReduceOp::kMax),
            std::vector<double>{n - 1});
}

TEST(Agreement, EveryRankThrowsTheLowestFailingRanksError) {
  auto comm = world_host();
  EXPECT_NO_THROW(ril::dist::agree_or_throw(*comm, ""));
  const int failing = comm->size() - 1;  // and, with 3+ ranks, rank 1 too: the lowest speaks
  std::string mine = comm->rank() == failing ? "bad input on the last rank" : "";
  if (comm->size() >= 3 && comm->rank() == 1) mine = "bad input on rank 1";
  const std::string expected = comm->size() >= 3 ? "ril x: bad input on rank 1" : "ril x: bad input on the last rank";
  try {
    ril::dist::agree_or_throw(*comm, mine, ril::dist::ErrorKind::kConfig, "ril x: ");
    ADD_FAILURE() << "no exception";
  } catch (const ril::ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), expected);
  }
  try {
    ril::dist::agree_or_throw(*comm, comm->rank() == 0 ? "runtime" : "", ril::dist::ErrorKind::kRuntime);
    ADD_FAILURE() << "no exception";
  } catch (const ril::ConfigError&) {
    ADD_FAILURE() << "a runtime error became a ConfigError";
  } catch (const ril::Error& e) {
    EXPECT_EQ(std::string(e.what()), "runtime");
  }
}

}  // namespace
