#pragma once
// A small self-contained SVG line chart for the demos (sppo_selfplay, janus, longpo): y on a
// log10 axis (values below the floor are drawn at the floor) or a linear one, one colour per
// series, a solid and an optional dotted line each.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <string>
#include <vector>

namespace prefopt::examples {

enum class y_axis { log10, linear };

struct series {
  std::string name;
  std::vector<double> x, solid, dotted;  // dotted may be empty
};

inline void write_line_plot(std::ostream& os, const std::vector<series>& all, const std::string& title,
                           const std::string& x_label, const std::string& y_label,
                           const std::string& solid_meaning, const std::string& dotted_meaning,
                           y_axis axis = y_axis::log10) {
  const bool log_y = axis == y_axis::log10;
  const double w = 720, h = 440, left = 70, right = 170, top = 40, bottom = 50;
  const double floor_value = 1e-4;
  double xmax = 1, ymin = 1, ymax = floor_value * 10;
  for (const auto& s : all) {
    for (double x : s.x) xmax = std::max(xmax, x);
    for (const auto* v : {&s.solid, &s.dotted})
      for (double y : *v) {
        const double c = std::max(y, floor_value);
        ymin = std::min(ymin, c), ymax = std::max(ymax, c);
      }
  }
  if (!log_y) {  // the linear axis spans the raw values, padded to whole tenths
    ymin = ymax = all.empty() || all[0].solid.empty() ? 0.0 : all[0].solid[0];
    for (const auto& s : all)
      for (const auto* v : {&s.solid, &s.dotted})
        for (double y : *v) ymin = std::min(ymin, y), ymax = std::max(ymax, y);
  }
  const double lo = log_y ? std::floor(std::log10(ymin)) : std::floor(ymin * 10) / 10;
  const double hi = log_y ? std::max(lo + 1, std::ceil(std::log10(ymax))) : std::max(lo + 0.1, std::ceil(ymax * 10) / 10);
  auto px = [&](double x) { return left + (w - left - right) * x / xmax; };
  auto py = [&](double y) {
    const double l = log_y ? std::log10(std::max(y, floor_value)) : y;
    return top + (h - top - bottom) * (hi - l) / (hi - lo);
  };
  auto num = [](double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f", v);
    return std::string(b);
  };
  const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w << "\" height=\"" << h
     << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
     << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
     << "<text x=\"" << w / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" << title << "</text>\n";
  const int lines = log_y ? static_cast<int>(hi - lo) : 5;  // decades, or five linear steps
  for (int k = 0; k <= lines; ++k) {
    const double d = lo + (hi - lo) * k / lines, at = py(log_y ? std::pow(10, d) : d);
    char label[32];
    if (log_y)
      std::snprintf(label, sizeof label, "1e%d", static_cast<int>(std::lround(d)));
    else
      std::snprintf(label, sizeof label, "%.3g", d);
    os << "<line x1=\"" << left << "\" x2=\"" << w - right << "\" y1=\"" << num(at) << "\" y2=\"" << num(at)
       << "\" stroke=\"#ddd\"/>\n"
       << "<text x=\"" << left - 6 << "\" y=\"" << num(at + 4) << "\" text-anchor=\"end\">" << label << "</text>\n";
  }
  const int ticks = 5;
  for (int i = 0; i <= ticks; ++i) {
    const double x = xmax * i / ticks;
    os << "<text x=\"" << num(px(x)) << "\" y=\"" << h - bottom + 18 << "\" text-anchor=\"middle\">"
       << static_cast<long long>(std::lround(x)) << "</text>\n";
  }
  os << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << w - left - right << "\" height=\""
     << h - top - bottom << "\" fill=\"none\" stroke=\"black\"/>\n"
     << "<text x=\"" << (left + w - right) / 2 << "\" y=\"" << h - 12 << "\" text-anchor=\"middle\">"
     << x_label << "</text>\n"
     << "<text transform=\"translate(18," << (top + h - bottom) / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
     << y_label << "</text>\n";
  for (std::size_t k = 0; k < all.size(); ++k) {
    const auto& s = all[k];
    const char* c = colours[k % 6];
    auto line = [&](const std::vector<double>& ys, const char* dash, double width) {
      if (ys.empty()) return;
      os << "<polyline fill=\"none\" stroke=\"" << c << "\" stroke-width=\"" << width << "\"" << dash
         << " points=\"";
      for (std::size_t i = 0; i < ys.size(); ++i) os << (i ? " " : "") << num(px(s.x[i])) << ',' << num(py(ys[i]));
      os << "\"/>\n";
    };
    line(s.dotted, " stroke-dasharray=\"2,3\"", 1.2);
    line(s.solid, "", 2.2);
    const double ly = top + 16 + 20 * static_cast<double>(k);
    os << "<line x1=\"" << w - right + 12 << "\" x2=\"" << w - right + 40 << "\" y1=\"" << ly << "\" y2=\""
       << ly << "\" stroke=\"" << c << "\" stroke-width=\"2.2\"/>\n"
       << "<text x=\"" << w - right + 46 << "\" y=\"" << ly + 4 << "\">" << s.name << "</text>\n";
  }
  const double ny = top + 16 + 20 * static_cast<double>(all.size()) + 10;
  os << "<text x=\"" << w - right + 12 << "\" y=\"" << ny << "\" font-size=\"10\">solid: " << solid_meaning
     << "</text>\n<text x=\"" << w - right + 12 << "\" y=\"" << ny + 14 << "\" font-size=\"10\">dotted: "
     << dotted_meaning << "</text>\n</svg>\n";
}

}  // namespace prefopt::examples
