#include "ril/dist/role_map.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

#include "ril/common/error.h"

namespace ril::dist {
namespace {

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(s);
  while (std::getline(in, part, sep)) parts.push_back(part);
  if (!s.empty() && s.back() == sep) parts.emplace_back();
  return parts;
}

}  // namespace

const char* role_name(Role role) {
  switch (role) {
    case Role::kTeacher: return "teacher";
    case Role::kRollout: return "rollout";
    case Role::kDiscriminator: return "discriminator";
    case Role::kLearner: return "learner";
    case Role::kJudge: return "judge";
  }
  return "?";
}

Role parse_role(const std::string& name) {
  for (Role role : kEveryRole) {
    if (name == role_name(role)) return role;
  }
  throw ConfigError(cat("unknown role '", name,
                        "' in --layout (valid roles: teacher, rollout, discriminator, learner, judge, or 'all')"));
}

RoleMap::RoleMap(int world_size)
    : ranks_of_role_(kRoleCount), roles_of_rank_(static_cast<size_t>(world_size), 0) {}

void RoleMap::assign(int rank, Role role) {
  const uint8_t bit = static_cast<uint8_t>(1u << static_cast<int>(role));
  if (roles_of_rank_[rank] & bit) return;
  roles_of_rank_[rank] |= bit;
  ranks_of_role_[static_cast<int>(role)].push_back(rank);
}

RoleMap RoleMap::from_spec(const std::string& spec_text, int world_size) {
  RIL_CONFIG_CHECK(world_size >= 1, "world size must be at least 1, got ", world_size);
  const std::string spec = trim(spec_text);
  if (spec.empty() || spec == "auto") return derive(world_size);

  struct Block {
    std::vector<Role> roles;
    int count;
  };
  std::vector<Block> blocks;
  int total = 0;
  for (const std::string& raw : split(spec, ',')) {
    const std::string item = trim(raw);
    const size_t eq = item.find('=');
    RIL_CONFIG_CHECK(!item.empty() && eq != std::string::npos && eq > 0,
                     "malformed --layout block '", item, "' in '", spec,
                     "': expected role[+role...]=count, e.g. teacher=2,rollout=1,discriminator=1,learner=1");
    Block block{{}, 0};
    for (const std::string& name_raw : split(item.substr(0, eq), '+')) {
      const std::string name = trim(name_raw);
      if (name == "all") {
        block.roles.assign(std::begin(kAllRoles), std::end(kAllRoles));
      } else {
        block.roles.push_back(parse_role(name));
      }
    }
    const std::string count_text = trim(item.substr(eq + 1));
    try {
      size_t used = 0;
      block.count = std::stoi(count_text, &used);
      RIL_CONFIG_CHECK(used == count_text.size(), "bad count");
    } catch (const std::exception&) {
      throw ConfigError(cat("malformed rank count '", count_text, "' in --layout block '", item, "'"));
    }
    RIL_CONFIG_CHECK(block.count >= 1, "rank count must be at least 1 in --layout block '", item, "'");
    total += block.count;
    blocks.push_back(block);
  }
  RoleMap map(world_size);
  RIL_CONFIG_CHECK(total <= world_size, "--layout '", spec, "' needs ", total, " ranks but the job has ",
                   world_size, " (start more ranks with mpirun -np ", total, " / srun -n ", total,
                   ", or colocate roles, e.g. teacher+rollout=1)");
  RIL_CONFIG_CHECK(total == world_size, "--layout '", spec, "' uses ", total, " ranks but the job has ",
                   world_size, ": give the extra ", world_size - total,
                   " rank(s) a role (e.g. more learner ranks) or start ", total, " ranks");
  int rank = 0;
  for (const Block& block : blocks) {
    for (int i = 0; i < block.count; ++i, ++rank) {
      for (Role role : block.roles) map.assign(rank, role);
    }
  }
  for (Role role : kAllRoles) {
    RIL_CONFIG_CHECK(!map.ranks(role).empty(), "--layout '", spec, "' has no ", role_name(role),
                     " rank: every role needs at least one (colocate it, e.g. discriminator+",
                     role_name(role), "=1)");
  }
  return map;
}

RoleMap RoleMap::derive(int world_size) {
  RIL_CONFIG_CHECK(world_size >= 1, "world size must be at least 1, got ", world_size);
  switch (world_size) {
    case 1: return from_spec("all=1", 1);
    case 2: return from_spec("teacher+rollout=1,discriminator+learner=1", 2);
    case 3: return from_spec("teacher+rollout=1,discriminator=1,learner=1", 3);
    default:
      return from_spec(cat("teacher=1,rollout=1,discriminator=1,learner=", world_size - 3), world_size);
  }
}

RoleMap RoleMap::colocate(Role added, Role host) const {
  RoleMap out = *this;
  for (int rank : ranks(host)) out.assign(rank, added);
  std::sort(out.ranks_of_role_[static_cast<int>(added)].begin(), out.ranks_of_role_[static_cast<int>(added)].end());
  return out;
}

bool RoleMap::has(int rank, Role role) const {
  return (roles_of_rank_.at(rank) >> static_cast<int>(role)) & 1u;
}

std::vector<Role> RoleMap::roles(int rank) const {
  std::vector<Role> out;
  for (Role role : kEveryRole) {
    if (has(rank, role)) out.push_back(role);
  }
  return out;
}

std::string RoleMap::roles_text(int rank) const {
  std::string text;
  for (Role role : roles(rank)) text += (text.empty() ? "" : "+") + std::string(role_name(role));
  return text;
}

std::string RoleMap::spec() const {
  std::string out;
  int rank = 0;
  const int n = world_size();
  while (rank < n) {
    int end = rank;
    while (end < n && roles_of_rank_[end] == roles_of_rank_[rank]) ++end;
    out += cat(out.empty() ? "" : ",", roles_text(rank), "=", end - rank);
    rank = end;
  }
  return out;
}

}  // namespace ril::dist
