#pragma once
// Output side of arena_ratings: the ranked text table, the JSON leaderboard (io/json_writer.hpp:
// RFC 8259 string escaping, non-finite numbers as null) and a self-contained SVG chart of ratings
// with CI bars.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <prefopt/config.hpp>
#include <prefopt/io/json_writer.hpp>

struct leaderboard_row {
  std::string model;
  double rating, ci_low, ci_high;
  prefopt::index_t rank, battles;
};

struct leaderboard {
  std::string title, interval, ci_label = "95% CI";
  std::vector<leaderboard_row> rows;  // sorted by rating, best first
};

/// Standard normal quantile by bisection on erfc (only a handful of calls; 1e-12 accuracy).
inline double normal_quantile(double p) {
  double lo = -40, hi = 40;
  for (int k = 0; k < 200; ++k) {
    const double mid = (lo + hi) / 2;
    (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

inline std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

inline void print_table(std::ostream& os, const leaderboard& b) {
  std::size_t w = 5;
  for (const auto& r : b.rows) w = std::max(w, r.model.size());
  os << b.title << "\n";
  char line[512];
  std::snprintf(line, sizeof line, "%4s  %-*s  %8s  %-20s  %8s\n", "rank", static_cast<int>(w), "model",
                "rating", b.ci_label.c_str(), "battles");
  os << line;
  for (const auto& r : b.rows) {
    char ci[96];
    std::snprintf(ci, sizeof ci, "[%.1f, %.1f]", r.ci_low, r.ci_high);
    std::snprintf(line, sizeof line, "%4lld  %-*s  %8.1f  %-20s  %8lld\n", static_cast<long long>(r.rank),
                  static_cast<int>(w), r.model.c_str(), r.rating, ci,
                  static_cast<long long>(r.battles));
    os << line;
  }
  os << "(" << b.ci_label << ": " << b.interval << "; rank = 1 + number of models whose interval lies "
     << "entirely above)\n";
}

using prefopt::io::json_number;
using prefopt::io::json_string;

/// [{"model": ..., "rating": ..., "ci_low": ..., "ci_high": ..., "rank": ..., "battles": ...}, ...]
inline std::string to_json(const leaderboard& b) {
  std::ostringstream os;
  os << "[";
  for (std::size_t k = 0; k < b.rows.size(); ++k) {
    const auto& r = b.rows[k];
    os << (k ? ",\n " : "\n ") << "{\"model\": " << json_string(r.model)
       << ", \"rating\": " << json_number(r.rating) << ", \"ci_low\": " << json_number(r.ci_low)
       << ", \"ci_high\": " << json_number(r.ci_high) << ", \"rank\": " << r.rank
       << ", \"battles\": " << r.battles << "}";
  }
  os << "\n]\n";
  return os.str();
}

inline std::string xml_escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

/// Horizontal dot-and-whisker chart: one row per model, best on top.
inline std::string to_svg(const leaderboard& b) {
  const double label_w = 250, plot_w = 480, row_h = 26, top = 56, right = 40;
  const double height = top + row_h * static_cast<double>(b.rows.size()) + 50;
  double lo = 1e300, hi = -1e300;
  for (const auto& r : b.rows) {
    lo = std::min({lo, r.ci_low, r.rating});
    hi = std::max({hi, r.ci_high, r.rating});
  }
  if (!(hi > lo)) {
    lo -= 1;
    hi += 1;
  }
  // "Nice" tick step: 1, 2 or 5 times a power of ten, about six ticks.
  const double raw = (hi - lo) / 6, mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
  lo = std::floor(lo / step) * step;
  hi = std::ceil(hi / step) * step;
  auto x = [&](double v) { return label_w + (v - lo) / (hi - lo) * plot_w; };
  std::ostringstream os;
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << label_w + plot_w + right << "\" height=\""
     << height << "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"13\">\n"
     << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
     << "<text x=\"12\" y=\"24\" font-size=\"16\" font-weight=\"bold\">" << xml_escape(b.title) << "</text>\n"
     << "<text x=\"12\" y=\"42\" fill=\"#555\">rating with " << xml_escape(b.ci_label) << " ("
     << xml_escape(b.interval) << ")</text>\n";
  const double axis_y = top + row_h * static_cast<double>(b.rows.size()) + 6;
  for (double t = lo; t <= hi + step / 2; t += step) {
    os << "<line x1=\"" << x(t) << "\" y1=\"" << top - 4 << "\" x2=\"" << x(t) << "\" y2=\"" << axis_y
       << "\" stroke=\"#ddd\"/>\n<text x=\"" << x(t) << "\" y=\"" << axis_y + 16
       << "\" text-anchor=\"middle\" fill=\"#333\">" << fixed(t, step < 1 ? 2 : 0) << "</text>\n";
  }
  for (std::size_t k = 0; k < b.rows.size(); ++k) {
    const auto& r = b.rows[k];
    const double y = top + row_h * (static_cast<double>(k) + 0.5);
    os << "<text x=\"" << label_w - 10 << "\" y=\"" << y + 4 << "\" text-anchor=\"end\">" << r.rank << ". "
       << xml_escape(r.model) << "</text>\n"
       << "<line x1=\"" << x(r.ci_low) << "\" y1=\"" << y << "\" x2=\"" << x(r.ci_high) << "\" y2=\"" << y
       << "\" stroke=\"#1f77b4\" stroke-width=\"2\"/>\n";
    for (double e : {r.ci_low, r.ci_high})
      os << "<line x1=\"" << x(e) << "\" y1=\"" << y - 6 << "\" x2=\"" << x(e) << "\" y2=\"" << y + 6
         << "\" stroke=\"#1f77b4\" stroke-width=\"2\"/>\n";
    os << "<circle cx=\"" << x(r.rating) << "\" cy=\"" << y << "\" r=\"4.5\" fill=\"#d62728\"><title>"
       << xml_escape(r.model) << ": " << fixed(r.rating, 1) << " [" << fixed(r.ci_low, 1) << ", "
       << fixed(r.ci_high, 1) << "], " << r.battles << " battles</title></circle>\n"
       << "<text x=\"" << x(r.ci_high) + 8 << "\" y=\"" << y + 4 << "\" fill=\"#333\" font-size=\"11\">"
       << fixed(r.rating, 0) << "</text>\n";
  }
  os << "<text x=\"" << label_w + plot_w / 2 << "\" y=\"" << axis_y + 36
     << "\" text-anchor=\"middle\" fill=\"#333\">rating</text>\n</svg>\n";
  return os.str();
}

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  if (!out || !(out << text)) throw std::invalid_argument("cannot write '" + path + "'");
}
