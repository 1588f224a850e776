// `ril sft`: supervised fine-tuning (Stage 0, DESIGN.md section 1) of a student of any supported
// family (text-only Qwen2, LLaVA, Qwen2.5-VL, InternVL) on a dataset's reference rationales; the
// result is both the initial policy and pi_ref.
//
// - Model: a preset (--model, HF-style init from --seed) or an HF-layout directory (--init).
//   A vision model from a preset takes the tokenizer's image token as its image token id
//   (roles::tokenizer_image_token: the family's own, else <|image_pad|>). Prompts and images
//   follow the family (roles::model_batch_options); images it cannot take are a ConfigError.
// - Data: the train split as an endless stream of seeded epochs (SftSampler, sft_batch.h); every
//   learner rank takes a disjoint slice of each global batch; --batch is per learner rank.
//   Targets: the dataset's --style rationales, or (--teacher-cache FILE [--teachers a,b]) the
//   cached responses of the chosen teachers to train questions: the sampler then draws rows of
//   that list. Validation always scores the dataset's rationales.
// - Loss: cross-entropy on response tokens only (prompt and image tokens masked), averaged over
//   the response tokens of the GLOBAL batch: each rank scales its token-sum by
//   ranks / global_tokens, gradients are flattened into one bucket and allreduced (average)
//   over the learner group (dist/gradient_sync.h; counts and losses go over its host
//   communicator), so N ranks compute the same update as one rank with N x the batch.
// - AdamW, lr decaying linearly --lr -> --lr-end over --steps (algo/schedules.h).
// - Checkpoints (io/checkpoint_store.h) every --checkpoint-every updates and at the end, written
//   by the learner root with the contents of io/checkpoint_schema.h (stage "sft"): the student's
//   parameters, AdamW state, step, world size and learner ranks, the default CPU generator, the
//   resolved config, the student's config and tokenizer (so `ril eval` reads it like a train
//   checkpoint). --resume restarts from the newest complete one (older files with /model read
//   too) and refuses one of ril train (exit 2, naming it); on CPU the resumed run is bitwise
//   identical to an uninterrupted one (the sampler is a function of the step).
// - A parameter that is not finite after an update ends the run (exit 1) before it reaches a
//   checkpoint or the model directory (roles/finite_parameters.h).
// - End: mean loss on (up to --val-examples of) the val split, the model written with
//   save_pretrained to --out (default <run-dir>/model) with the tokenizer.json beside it.
// Which ranks call: every rank. Non-learner ranks only validate the inputs and return (main then
// waits for the job's verdict). Input errors (missing files, vocabulary too large, unknown
// style, image size mismatch) throw ConfigError alike on every rank, before training starts.
#pragma once

#include "ril/common/config.h"
#include "ril/dist/rank_groups.h"

namespace ril::jobs {

void run_sft_job(const dist::RankGroups& groups, const Config& config);

}  // namespace ril::jobs
