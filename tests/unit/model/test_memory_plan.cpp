// Memory planning (model/memory_plan.h): the bytes per learner rank of a small config, worked
// out by hand here (the numbers in the comments), for the three --shard modes, two dtypes and
// with and without activation checkpointing.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ril/common/error.h"
#include "ril/model/memory_plan.h"
#include "ril/model/qwen2_decoder.h"

namespace ril::model {
namespace {

// vocab 1000, d 64, MLP 128, 2 layers, 4 heads / 2 KV heads of 16, tied embeddings.
ModelConfig small_config() {
  Qwen2Config c;
  c.vocab_size = 1000;
  c.hidden_size = 64;
  c.intermediate_size = 128;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.tie_word_embeddings = true;
  ModelConfig m;
  m.kind = ModelKind::kQwen2;
  m.qwen2 = c;
  return m;
}

// Parameters: embeddings 1000 * 64 = 64000; a layer: q 64*64 + k, v 2 * 64*32 + o 64*64 +
// MLP 3 * 64*128 = 36864 matmul, + biases 64 + 2*32 = 128, + norms 2*64 = 128 -> 37120; decoder
// 2 * 37120 + final norm 64 = 74304; total 138304.
constexpr int64_t kParams = 138304;

TEST(MemoryPlan, ParameterCountMatchesTheBuiltModel) {
  Qwen2ForCausalLM lm(small_config().qwen2);
  int64_t n = 0;
  for (const auto& p : lm->parameters()) n += p.numel();
  EXPECT_EQ(n, kParams);
  EXPECT_EQ(plan_memory(small_config(), {}).params, kParams);
}

TEST(MemoryPlan, ShardModesBfloat16ThreeRanks) {
  MemoryPlanOptions o;
  o.learners = 3;
  o.dtype = "bfloat16";  // 2 bytes; AdamW m, v (8 B) + float32 master (4 B) = 12 B per parameter
  o.batch = 2;
  o.seq_len = 10;
  // A rank's slice: ceil(138304 / 3) = 46102 parameters.
  o.shard = ShardMode::kNone;
  MemoryPlan p = plan_memory(small_config(), o);
  EXPECT_EQ(p.weights, 276608);      // 138304 * 2
  EXPECT_EQ(p.gradients, 276608);    // 138304 * 2
  EXPECT_EQ(p.optimizer, 1659648);   // 138304 * 12
  // Activations, 2 x 10 = 20 tokens: a layer keeps 4*64 + 3*64 + 3*32 + 4*128 = 1056 elements
  // per token, 2 layers * 1056 * 2 B = 4224 B; logits 1000 * (2 + 8) = 10000 B; 20 * 14224.
  EXPECT_EQ(p.activations, 284480);
  EXPECT_EQ(p.total(), 276608 + 276608 + 1659648 + 284480);

  o.shard = ShardMode::kOptimizer;
  p = plan_memory(small_config(), o);
  EXPECT_EQ(p.weights, 276608);
  EXPECT_EQ(p.gradients, 276608);
  EXPECT_EQ(p.optimizer, 553224);    // 46102 * 12

  o.shard = ShardMode::kGradients;
  p = plan_memory(small_config(), o);
  EXPECT_EQ(p.weights, 276608);
  EXPECT_EQ(p.gradients, 92204);     // 46102 * 2
  EXPECT_EQ(p.optimizer, 553224);

  // Checkpointed: 2 layer inputs of 64 + one layer's 1056 = 1184 elements * 2 B = 2368, + 10000.
  o.checkpoint_activations = true;
  EXPECT_EQ(plan_memory(small_config(), o).activations, 20 * 12368);
}

TEST(MemoryPlan, Float32HasNoMasterCopyAndOneRankShardsNothing) {
  MemoryPlanOptions o;
  o.dtype = "float32";
  o.shard = ShardMode::kGradients;  // N = 1: the slice is the whole buffer
  const MemoryPlan p = plan_memory(small_config(), o);
  EXPECT_EQ(p.weights, kParams * 4);
  EXPECT_EQ(p.gradients, kParams * 4);
  EXPECT_EQ(p.optimizer, kParams * 8);
}

TEST(MemoryPlan, BadInputIsAConfigError) {
  MemoryPlanOptions o;
  o.learners = 0;
  EXPECT_THROW(plan_memory(small_config(), o), ConfigError);
  EXPECT_THROW(parse_shard_mode("zero3"), ConfigError);
  o.learners = 1;
  o.dtype = "int8";
  EXPECT_THROW(plan_memory(small_config(), o), ConfigError);
  EXPECT_EQ(parse_shard_mode("optimizer"), ShardMode::kOptimizer);
}

TEST(MemoryPlan, ReportNamesTheModesAndWhichCommandsRunThem) {
  MemoryPlanOptions o;
  o.learners = 2;
  const std::string text = describe_memory_plan(small_config(), "small", o,
                                                {ShardMode::kNone, ShardMode::kOptimizer, ShardMode::kGradients});
  EXPECT_NE(text.find("2 learner rank(s)"), std::string::npos) << text;
  EXPECT_NE(text.find("optimizer"), std::string::npos) << text;
  EXPECT_NE(text.find("ril train --shard none|optimizer|gradients runs these modes"), std::string::npos) << text;
  EXPECT_EQ(text.find("once they are implemented"), std::string::npos) << text;
}

}  // namespace
}  // namespace ril::model
