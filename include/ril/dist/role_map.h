// Which rank does what: computed once, from the --layout spec or from the world size, and used
// everywhere else (nothing computes `rank % k` on its own). Pure: no MPI, so it is unit-tested
// for any world size without launching ranks.
//
// Layout spec: comma-separated blocks `role[+role...]=count`, consumed by ranks in order.
//   "teacher=2,rollout=1,discriminator=1,learner=1"   5 ranks, one role each
//   "teacher+rollout=1,discriminator+learner=1"       2 ranks, two roles each (colocated)
//   "all=1"                                           1 rank runs everything
//   "auto"                                            derived from the world size (below)
//   "teacher+judge=1,rollout=1,discriminator+learner=1"   ril train --judge: the judge colocated
// Every role of kAllRoles needs at least one rank, and the counts must add up to the world size.
// The judge (ril train --judge, issue 16) is optional: "all" does not include it ("all+judge=1"
// does), and whether a layout must or must not have it is the train command's check
// (jobs/train_inputs.h: check_judge_layout), not the map's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ril::dist {

enum class Role { kTeacher = 0, kRollout = 1, kDiscriminator = 2, kLearner = 3, kJudge = 4 };
constexpr int kRoleCount = 5;
// The roles every layout has ("all" in a spec stands for them).
constexpr Role kAllRoles[] = {Role::kTeacher, Role::kRollout, Role::kDiscriminator, Role::kLearner};
// kAllRoles and the optional judge.
constexpr Role kEveryRole[kRoleCount] = {Role::kTeacher, Role::kRollout, Role::kDiscriminator, Role::kLearner,
                                         Role::kJudge};

const char* role_name(Role role);
Role parse_role(const std::string& name);  // throws ConfigError listing the valid names

class RoleMap {
 public:
  // Throws ConfigError (identical on every rank) for unknown roles, malformed blocks, a missing
  // role, or counts that do not add up to `world_size`.
  static RoleMap from_spec(const std::string& spec, int world_size);
  // The default layout for a world size: 1 -> all on one rank; 2 -> teacher+rollout |
  // discriminator+learner; 3 -> teacher+rollout | discriminator | learner; 4 -> one role each;
  // n > 4 -> one teacher, one rollout, one discriminator, n-3 learners (data-parallel).
  static RoleMap derive(int world_size);
  // This map with `added` on every rank of `host` (e.g. the judge on the teacher ranks).
  RoleMap colocate(Role added, Role host) const;

  int world_size() const { return static_cast<int>(roles_of_rank_.size()); }
  bool has(int rank, Role role) const;
  const std::vector<int>& ranks(Role role) const { return ranks_of_role_[static_cast<int>(role)]; }
  int root(Role role) const { return ranks(role).front(); }  // lowest rank of the group; the role must have ranks
  std::vector<Role> roles(int rank) const;
  std::string roles_text(int rank) const;  // "teacher+rollout"
  std::string spec() const;                // canonical spec, e.g. "teacher+rollout=1,learner=1"

 private:
  explicit RoleMap(int world_size);
  void assign(int rank, Role role);
  std::vector<std::vector<int>> ranks_of_role_;
  std::vector<uint8_t> roles_of_rank_;  // bit i set = Role(i)
};

}  // namespace ril::dist
