// `ril smoke`: every rank group exchanges real tensors with the others in the pattern the
// training loop uses, checks every result bitwise against an independent recomputation, writes
// and re-reads an HDF5 file, and reports the time of each exchange. Per round:
//   1. weights    learner root -> every rollout and discriminator rank (WeightSync, versioned)
//   2. rollouts   rollout ranks -> discriminator root and learner root (gather; int64 tokens,
//                 float32 log-probs, bool masks)
//   3. teacher    teacher ranks -> discriminator root and learner root (gather; int32 tokens)
//   4. disc group the discriminator root broadcasts the batch in its group, each discriminator
//                 rank scores a slice, the root gathers the scores
//   5. scores     discriminator root -> learner root (a broadcast over their two-rank channel)
//   6. learner    the learner group broadcasts the batch and allreduces a gradient-like tensor
//   7. hdf5       the learner root writes everything to an HDF5 file atomically and reads it back
// Which ranks call: every rank (collective over the world).
#pragma once

#include "ril/common/config.h"
#include "ril/dist/rank_groups.h"

namespace ril::jobs {

// Throws ril::Error if any check fails on any rank; returns normally on every rank otherwise.
void run_smoke_job(const dist::RankGroups& groups, const Config& config);

}  // namespace ril::jobs
