#pragma once
// What the paper demos (janus, longpo) share for their results: the --out directory (created
// first, so a bad one fails before any work), its files, the summary / history CSV and the SVG
// plot of a run, and printf-style number formatting.
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include <prefopt/core/errors.hpp>

#include "json_output.hpp"
#include "svg_plot.hpp"

namespace prefopt::examples {

/// `v` printed with the printf format `f` (one number).
inline std::string format_number(double v, const char* f = "%.4f") {
  char b[48];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

class demo_output {
 public:
  /// Creates `dir` (given as --out) if missing; invalid_argument when it cannot be.
  explicit demo_output(const std::string& dir) : dir_(dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    require(!ec && std::filesystem::is_directory(dir_), "--out", dir, "cannot create the output directory");
  }
  [[nodiscard]] std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void write(const std::string& name, const std::string& text) const { write_output_file("--out", path(name), text); }

  /// summary.csv, history.csv and the plot `svg_name` (linear y axis, x = training step).
  void write_results(const std::string& summary, const std::string& history, const std::vector<series>& plot,
                     const std::string& svg_name, const std::string& title, const std::string& y_label,
                     const std::string& solid, const std::string& dotted) const {
    write("summary.csv", summary);
    write("history.csv", history);
    std::ostringstream svg;
    write_line_plot(svg, plot, title, "training step", y_label, solid, dotted, y_axis::linear);
    write(svg_name, svg.str());
  }

 private:
  std::filesystem::path dir_;
};

}  // namespace prefopt::examples
