// The role map: layouts for world sizes 1..4 and every malformed spec.
#include <gtest/gtest.h>

#include "ril/common/error.h"
#include "ril/dist/role_map.h"

namespace {

using ril::dist::Role;
using ril::dist::RoleMap;

std::string spec_error(const std::string& spec, int world) {
  try {
    RoleMap::from_spec(spec, world);
  } catch (const ril::ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(RoleMap, DerivedLayoutsCoverEveryRoleForWorldSizes1To4) {
  const char* expected[] = {"", "teacher+rollout+discriminator+learner=1",
                            "teacher+rollout=1,discriminator+learner=1",
                            "teacher+rollout=1,discriminator=1,learner=1",
                            "teacher=1,rollout=1,discriminator=1,learner=1"};
  for (int world = 1; world <= 4; ++world) {
    const RoleMap map = RoleMap::derive(world);
    EXPECT_EQ(map.spec(), expected[world]) << world;
    for (Role role : ril::dist::kAllRoles) {
      ASSERT_FALSE(map.ranks(role).empty()) << world;
      for (int r : map.ranks(role)) EXPECT_TRUE(map.has(r, role));
    }
    EXPECT_EQ(RoleMap::from_spec("auto", world).spec(), map.spec());
  }
  const RoleMap seven = RoleMap::derive(7);
  EXPECT_EQ(seven.ranks(Role::kLearner), (std::vector<int>{3, 4, 5, 6}));
}

TEST(RoleMap, SpecsAssignRanksInOrderWithColocation) {
  const RoleMap map = RoleMap::from_spec("teacher=2, rollout=1,discriminator+learner=2", 5);
  EXPECT_EQ(map.ranks(Role::kTeacher), (std::vector<int>{0, 1}));
  EXPECT_EQ(map.ranks(Role::kRollout), (std::vector<int>{2}));
  EXPECT_EQ(map.ranks(Role::kDiscriminator), (std::vector<int>{3, 4}));
  EXPECT_EQ(map.ranks(Role::kLearner), (std::vector<int>{3, 4}));
  EXPECT_EQ(map.root(Role::kLearner), 3);
  EXPECT_EQ(map.roles_text(4), "discriminator+learner");
  EXPECT_EQ(map.spec(), "teacher=2,rollout=1,discriminator+learner=2");
  const RoleMap all = RoleMap::from_spec("all=3", 3);
  for (Role role : ril::dist::kAllRoles) EXPECT_EQ(all.ranks(role).size(), 3u);
}

TEST(RoleMap, BadSpecsNameTheProblem) {
  EXPECT_NE(spec_error("teacher=1,rollout=1,critic=1,learner=1", 4).find("unknown role 'critic'"), std::string::npos);
  EXPECT_NE(spec_error("teacher=2,rollout=1,discriminator=1,learner=1", 4).find("needs 5 ranks but the job has 4"),
            std::string::npos);
  EXPECT_NE(spec_error("teacher=1,rollout=1,discriminator=1", 3).find("no learner rank"), std::string::npos);
  EXPECT_NE(spec_error("teacher=1,rollout=1,discriminator=1,learner=1", 6).find("uses 4 ranks but the job has 6"),
            std::string::npos);
  EXPECT_NE(spec_error("teacher=one,rollout=1,discriminator=1,learner=1", 4).find("malformed rank count 'one'"),
            std::string::npos);
  EXPECT_NE(spec_error("teacher,rollout=1", 2).find("malformed --layout block 'teacher'"), std::string::npos);
  EXPECT_NE(spec_error("all=0", 1).find("at least 1"), std::string::npos);
}

}  // namespace

namespace {

// The judge (ril train --judge) is an optional role: on ranks of its own or colocated.
TEST(RoleMap, JudgeIsOptionalAndColocates) {
  const RoleMap own = RoleMap::from_spec("teacher=1,rollout=1,discriminator+learner=1,judge=1", 4);
  EXPECT_EQ(own.ranks(Role::kJudge), (std::vector<int>{3}));
  EXPECT_EQ(own.roles_text(3), "judge");
  const RoleMap colocated = RoleMap::from_spec("teacher+judge=2,rollout=1,discriminator+learner=1", 4);
  EXPECT_EQ(colocated.ranks(Role::kJudge), (std::vector<int>{0, 1}));
  EXPECT_EQ(colocated.roles_text(0), "teacher+judge");
  EXPECT_EQ(colocated.spec(), "teacher+judge=2,rollout=1,discriminator+learner=1");
  EXPECT_TRUE(RoleMap::from_spec("all=2", 2).ranks(Role::kJudge).empty());  // "all" has no judge
  EXPECT_EQ(RoleMap::from_spec("all+judge=1", 1).roles_text(0), "teacher+rollout+discriminator+learner+judge");
  const RoleMap derived = RoleMap::derive(3).colocate(Role::kJudge, Role::kTeacher);
  EXPECT_EQ(derived.spec(), "teacher+rollout+judge=1,discriminator=1,learner=1");
  EXPECT_EQ(derived.root(Role::kJudge), 0);
  // A judge rank alone does not make up for a missing role.
  EXPECT_NE(spec_error("teacher=1,rollout=1,discriminator=1,judge=1", 4).find("no learner rank"), std::string::npos);
}

}  // namespace
