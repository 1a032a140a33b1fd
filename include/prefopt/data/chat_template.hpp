#pragma once
// Prompt templates for system-message training data (Janus, kaistAI/Janus):
//   mistral  "[INST] {system}\n{instruction} [/INST]", the prompt_format of Janus' DPO config
//            (train/axolotl/config/janus-7b-dpo.yml), verbatim: one space after [INST], a newline
//            between system message and instruction, one space before [/INST];
//   chatml   "<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{instruction}<|im_end|>\n"
//            "<|im_start|>assistant\n", the ChatML rendering (with the generation prompt) that
//            Janus' ORPO config selects (chat_template: chatml).
// The text is inserted as is: no trimming, no escaping.

#include <string>
#include <string_view>

#include "prefopt/core/errors.hpp"

namespace prefopt::data {

enum class chat_template { mistral, chatml };

inline std::string_view template_name(chat_template t) {
  return t == chat_template::mistral ? "mistral" : "chatml";
}

/// The template called `name` ("mistral" or "chatml").
inline chat_template parse_chat_template(std::string_view name) {
  if (name == "mistral") return chat_template::mistral;
  if (name == "chatml") return chat_template::chatml;
  throw_invalid_argument("template", std::string(name), "must be mistral or chatml");
}

/// The prompt of one (system message, instruction) in template `t`.
inline std::string format_prompt(chat_template t, std::string_view system, std::string_view instruction) {
  std::string out;
  if (t == chat_template::mistral) {
    out.append("[INST] ").append(system).append("\n").append(instruction).append(" [/INST]");
  } else {
    out.append("<|im_start|>system\n").append(system).append("<|im_end|>\n<|im_start|>user\n");
    out.append(instruction).append("<|im_end|>\n<|im_start|>assistant\n");
  }
  return out;
}

}  // namespace prefopt::data
