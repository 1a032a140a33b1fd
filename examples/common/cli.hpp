#pragma once
// The command-line plumbing every example tool shares, so that each main.cpp holds only what
// the tool does:
//   arguments   walks argv: -h / --help prints the usage and exits 0; an option's value, typed
//               (integer in a range, finite number, one of a few words) or as text; an unknown
//               option; positional arguments;
//   run_tool    runs the tool and turns what it throws into ONE line on stderr and the exit
//               status: 2 for bad usage (usage_error) and bad input (std::invalid_argument,
//               which prefopt::invalid_argument and every reader's parse_error derive from),
//               1 for anything else.
// Each tool keeps its own wording where it had one (tool_style), since scripts and the ctest
// cases match the messages.

#include <cerrno>
#include <cmath>
#include <concepts>
#include <cstdlib>
#include <exception>
#include <initializer_list>
#include <iostream>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <prefopt/core/errors.hpp>

namespace prefopt::examples {

/// Bad command-line usage: printed as one line, exit status 2.
struct usage_error {
  std::string message;
};

/// How a tool words its one-line errors.
struct tool_style {
  char quote = '\'';                    // around a value quoted in a usage error
  bool usage_says_error = false;        // "NAME: error: msg" instead of "NAME: msg"
  bool usage_points_to_help = false;    // usage errors end in " (see NAME --help)"
  const char* input_error = "error: ";  // between "NAME: " and a bad-input message
};

struct tool {
  std::string_view name;
  std::string_view usage;  // printed by --help
  tool_style style = {};
};

/// The command line of `t`, one argument at a time:
///   for (arguments args(t, argc, argv); args.next();)
///     if (args.take("--seed", seed, 0) || args.take("--json", json_path)) continue;
///     else if (args.is("--ci")) ci = checked_level(args.number());
///     else if (args.is_option()) args.unknown();
///     else args.positional(file, "more than one input file given");
class arguments {
 public:
  arguments(const tool& t, int argc, char** argv) : tool_(t), args_(argv + 1, argv + argc) {}

  /// Advances to the next argument; false after the last. -h and --help print the usage and
  /// exit with status 0.
  bool next() {
    if (++at_ >= args_.size()) return false;
    if (current() == "-h" || current() == "--help") {
      std::cout << tool_.usage;
      std::exit(0);
    }
    return true;
  }

  [[nodiscard]] const std::string& current() const { return args_[at_]; }
  [[nodiscard]] bool is(std::string_view flag) const { return current() == flag; }
  /// "-x" or "--xyz"; a lone "-" (standard input) is a positional argument.
  [[nodiscard]] bool is_option() const { return current().size() > 1 && current()[0] == '-'; }

  /// The current option's value (the next argument).
  std::string value() {
    if (at_ + 1 >= args_.size()) throw usage_error{current() + " needs a value"};
    flag_ = current();
    return args_[++at_];
  }

  /// The text of the value read last (to quote it when a typed value fails a further check).
  [[nodiscard]] const std::string& last_value() const { return args_[at_]; }

  /// The value as an integer in [lo, hi]. Out-of-range text is an error, not saturated (strtoll
  /// would turn 10^30 into LLONG_MAX).
  long long integer(long long lo, long long hi = std::numeric_limits<long long>::max()) {
    const std::string text = value();
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || end != text.c_str() + text.size() || errno == ERANGE || v < lo || v > hi)
      throw usage_error{flag_ + " expects an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                        "], got " + quoted(text)};
    return v;
  }

  /// The value as a finite number.
  double number() {
    const std::string text = value();
    return number(flag_, text);
  }

  /// `text`, given with option `flag`, as a finite number (for an option that packs a number
  /// into a larger value, such as --anchor MODEL=RATING).
  [[nodiscard]] double number(const std::string& flag, const std::string& text) const {
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v))
      throw usage_error{flag + " expects a number, got " + quoted(text)};
    return v;
  }

  /// The value as one of a few words: "FLAG must be a, b or c, got 'x'" otherwise.
  template <class E>
  E choice(std::initializer_list<std::pair<std::string_view, E>> words) {
    const std::string text = value();
    std::string list;
    std::size_t k = 0;
    for (const auto& [word, e] : words) {
      if (text == word) return e;
      list += (k == 0 ? "" : k + 1 == words.size() ? " or " : ", ") + std::string(word);
      ++k;
    }
    throw usage_error{flag_ + " must be " + list + ", got " + quoted(text)};
  }

  /// When the current argument is `flag`: reads its value into `into` (text, a finite number,
  /// or for a bool a switch without value that sets it) and returns true.
  bool take(std::string_view flag, std::string& into) { return is(flag) && (into = value(), true); }
  bool take(std::string_view flag, double& into) { return is(flag) && (into = number(), true); }
  bool take(std::string_view flag, bool& into) { return is(flag) && (into = true); }
  /// The same for an integer option, which must lie in [lo, hi] (at most what `I` holds).
  template <std::integral I>
  bool take(std::string_view flag, I& into, long long lo, long long hi = std::numeric_limits<long long>::max()) {
    if (!is(flag)) return false;
    const auto most = std::numeric_limits<I>::max();
    if (static_cast<unsigned long long>(most) < static_cast<unsigned long long>(hi)) hi = static_cast<long long>(most);
    into = static_cast<I>(integer(lo, hi));
    return true;
  }

  /// A positional argument into `slot`; `too_many` is the error when `slot` is already taken.
  void positional(std::string& slot, const char* too_many) const {
    if (!slot.empty()) throw usage_error{too_many};
    slot = current();
  }

  /// Throws the usage error for an unknown option.
  [[noreturn]] void unknown() const {
    throw usage_error{"unknown option " + quoted(current()) +
                      (tool_.style.usage_points_to_help ? "" : " (see --help)")};
  }

  /// `text` quoted as this tool quotes values (escaped, at most 60 characters: quote_text).
  [[nodiscard]] std::string quoted(std::string_view text) const { return quote_text(text, tool_.style.quote); }

 private:
  const tool& tool_;
  std::vector<std::string> args_;
  std::size_t at_ = static_cast<std::size_t>(-1);
  std::string flag_;  // the option whose value was read last
};

/// Runs `body` (returning the exit status) and reports what it throws as one line on stderr.
template <class Body>
int run_tool(const tool& t, Body&& body) {
  const std::string name(t.name);
  try {
    return body();
  } catch (const usage_error& e) {
    std::cerr << name << ": " << (t.style.usage_says_error ? "error: " : "") << e.message
              << (t.style.usage_points_to_help ? " (see " + name + " --help)" : std::string()) << "\n";
    return 2;
  } catch (const std::invalid_argument& e) {  // bad input: malformed files, invalid values
    std::cerr << name << ": " << t.style.input_error << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << name << ": error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace prefopt::examples
