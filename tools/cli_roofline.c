/* `kiln bench --html FILE`: a bench report drawn as a roofline, for a person to look at
 * rather than read. One self-contained XHTML page (no script, nothing fetched; it parses
 * as XML): an inline SVG log-log plot, x the kernel's arithmetic intensity (flops/byte),
 * y its GFLOP/s, under the two roofs of the peaks (bandwidth x intensity, then peak
 * GFLOP/s); one circle per kernel, its area its share of the kernels' time, its name, ops
 * and numbers in an SVG <title> shown on hover. Kernels without floating-point work have
 * no intensity: they get a strip of their own below, x their GB/s against peak bandwidth.
 * Then the numbers as a table. */
#include "tools/cli_util.h"

#include "runtime/report.h"

#include <math.h>
#include <stdlib.h>

#define W 820.0
#define LEFT 80.0
#define RIGHT 30.0
#define TOP 20.0
#define PH 420.0   /* the roofline plot's height */
#define STRIP 70.0 /* the strip of kernels without floating-point work */
#define PW (W - LEFT - RIGHT)

/* Text or an attribute value with XML's special characters escaped; control characters
 * XML does not allow are dropped, and a byte that is not UTF-8 (or U+FFFE, U+FFFF) becomes
 * U+FFFD, so any kernel name keeps the page well-formed. */
static void xml(const char *s, FILE *f) {
  while (s && *s) {
    const unsigned char *u = (const unsigned char *)s;
    int n = kiln_utf8_len(s);
    if (*s == '&') fputs("&amp;", f);
    else if (*s == '<') fputs("&lt;", f);
    else if (*s == '>') fputs("&gt;", f);
    else if (*s == '"') fputs("&quot;", f);
    else if (!n || (n == 3 && u[0] == 0xEF && u[1] == 0xBF && u[2] >= 0xBE))
      fputs("\xEF\xBF\xBD", f);
    else if (*u >= 0x20 || *s == '\n' || *s == '\t') fwrite(s, 1, (size_t)n, f);
    s += n ? n : 1;
  }
}

/* A log10 axis of whole decades [lo, hi] covering the positive values given to it. */
typedef struct axis {
  double lo, hi;
} axis;

static void axis_add(axis *a, double v) {
  if (!(v > 0) || !isfinite(v)) return;
  double l = log10(v);
  if (a->lo > a->hi) a->lo = a->hi = l;
  a->lo = fmin(a->lo, floor(l));
  a->hi = fmax(a->hi, ceil(l));
}

static void axis_done(axis *a) {
  if (a->lo > a->hi) a->lo = a->hi = 0;
  if (a->hi <= a->lo) a->hi = a->lo + 1;
}

/* Where v falls on a, from 0 to 1 (clamped: values outside sit on the edge). */
static double frac(const axis *a, double v) {
  double l = v > 0 && isfinite(v) ? log10(v) : a->lo;
  double t = (l - a->lo) / (a->hi - a->lo);
  return t < 0 ? 0 : t > 1 ? 1 : t;
}

static double px(const axis *x, double v) { return LEFT + PW * frac(x, v); }
static double py(const axis *y, double v, double top, double h) {
  return top + h * (1 - frac(y, v));
}

/* Decade ticks and labels along x at the bottom of a panel from top to top + h. */
static void x_ticks(const axis *x, double top, double h, const char *label, FILE *f) {
  for (double d = x->lo; d <= x->hi + 1e-9; d++) {
    double xx = LEFT + PW * (d - x->lo) / (x->hi - x->lo);
    fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", xx, top,
            xx, top + h);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n", xx,
            top + h + 16, pow(10, d));
  }
  fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", LEFT + PW / 2,
          top + h + 34, label);
}

static double radius(double share) { return 3 + 22 * sqrt(share > 0 ? share : 0); }

static void circle(const kiln_report_kernel *w, int i, double cx, double cy, double share,
                   FILE *f) {
  fprintf(f, "<circle class=\"kernel\" cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"><title>#%d ", cx, cy,
          radius(share), i);
  xml(w->k->name, f);
  fputs(" (", f);
  xml(w->k->op ? w->k->op : "?", f);
  fprintf(f, "): %.2f us, %.1f%% of the time, %.2f GFLOP/s, %.2f GB/s, %.3g flops/byte, "
          "%.1f%% of its roofline</title></circle>\n", w->ns / 1e3, 100 * share, w->gflops,
          w->gbs, kiln_kernel_cost_intensity(&w->cost), w->roofline_pct);
}

static void plot(const kiln_report *r, double total, FILE *f) {
  const kiln_report_bench *b = r->bench;
  double ridge = b->peak_gflops / b->peak_gbs;
  axis x = {1, 0}, y = {1, 0}, s = {1, 0};
  int nflat = 0;
  axis_add(&x, ridge);
  axis_add(&y, b->peak_gflops);
  for (int i = 0; i < r->nkernels; i++) {
    const kiln_report_kernel *w = &r->kernels[i];
    nflat += !(w->cost.flops > 0);
    if (!(w->ns > 0)) continue; /* not run: no rates, drawn on the axes' low edge */
    if (w->cost.flops > 0) {
      axis_add(&x, kiln_kernel_cost_intensity(&w->cost));
      axis_add(&y, w->gflops);
    } else {
      axis_add(&s, w->gbs);
    }
  }
  axis_add(&s, b->peak_gbs);
  axis_done(&x);
  axis_done(&y);
  axis_done(&s);
  double height = TOP + PH + 50 + (nflat ? STRIP + 60 : 0);
  fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
          "viewBox=\"0 0 %.0f %.0f\">\n", W, height, W, height);
  fprintf(f, "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n",
          LEFT, TOP, PW, PH);
  for (double d = y.lo; d <= y.hi + 1e-9; d++) {
    double yy = TOP + PH * (1 - (d - y.lo) / (y.hi - y.lo));
    fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", LEFT,
            yy, LEFT + PW, yy);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", LEFT - 6, yy + 4,
            pow(10, d));
  }
  fprintf(f, "<text transform=\"translate(18 %.1f) rotate(-90)\" text-anchor=\"middle\">"
          "GFLOP/s</text>\n", TOP + PH / 2);
  x_ticks(&x, TOP, PH, "arithmetic intensity (flops/byte)", f);
  /* the roofs: bandwidth x intensity up to the ridge, where the peak takes over */
  double x0 = fmax(pow(10, x.lo), pow(10, y.lo) / b->peak_gbs);
  fprintf(f, "<polyline class=\"roof\" points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\"/>\n",
          px(&x, x0), py(&y, b->peak_gbs * x0, TOP, PH), px(&x, ridge),
          py(&y, b->peak_gflops, TOP, PH), LEFT + PW, py(&y, b->peak_gflops, TOP, PH));
  fprintf(f, "<text class=\"roofnote\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">peak %.1f "
          "GFLOP/s, %.1f GB/s</text>\n", LEFT + PW - 4, py(&y, b->peak_gflops, TOP, PH) - 6,
          b->peak_gflops, b->peak_gbs);
  double stop = TOP + PH + 60;
  if (nflat) {
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">kernels without floating-point work: GB/s</text>\n",
            LEFT, stop - 6);
    fprintf(f, "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n",
            LEFT, stop, PW, STRIP);
    x_ticks(&s, stop, STRIP, "GB/s", f);
    fprintf(f, "<line class=\"roof\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
            px(&s, b->peak_gbs), stop, px(&s, b->peak_gbs), stop + STRIP);
  }
  for (int i = 0; i < r->nkernels; i++) {
    const kiln_report_kernel *w = &r->kernels[i];
    double share = total > 0 ? w->ns / total : 0;
    if (w->cost.flops > 0)
      circle(w, i, px(&x, kiln_kernel_cost_intensity(&w->cost)), py(&y, w->gflops, TOP, PH),
             share, f);
    else
      circle(w, i, px(&s, w->gbs), stop + STRIP / 2, share, f);
  }
  fputs("</svg>\n", f);
}

static void table(const kiln_report *r, double total, FILE *f) {
  fputs("<table>\n<tr><th>#</th><th>kernel</th><th>op</th><th>nodes</th><th>time (us)</th>"
        "<th>share</th><th>GFLOP/s</th><th>GB/s</th><th>flops/byte</th><th>roofline</th></tr>\n",
        f);
  for (int i = 0; i < r->nkernels; i++) {
    const kiln_report_kernel *w = &r->kernels[i];
    fprintf(f, "<tr><td>%d</td><td>", i);
    xml(w->k->name, f);
    fputs("</td><td>", f);
    xml(w->k->op ? w->k->op : "?", f);
    fputs("</td><td>", f);
    for (int n = 0; n < w->k->nnodes; n++) {
      if (n) fputs(", ", f);
      xml(w->k->nodes[n], f);
    }
    fprintf(f, "</td><td>%.2f</td><td>%.1f%%</td><td>%.2f</td><td>%.2f</td><td>%.3g</td>"
            "<td>%.1f%%</td></tr>\n", w->ns / 1e3, total > 0 ? 100 * w->ns / total : 0,
            w->gflops, w->gbs, kiln_kernel_cost_intensity(&w->cost), w->roofline_pct);
  }
  fputs("</table>\n", f);
}

kiln_status cli_write_roofline(const kiln_report *r, const char *path, kiln_error *err) {
  const kiln_report_bench *b = r->bench;
  double total = 0;
  for (int i = 0; i < r->nkernels; i++) total += r->kernels[i].ns;
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "--html '%s': no memory", path);
  fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE html>\n"
        "<html xmlns=\"http://www.w3.org/1999/xhtml\">\n<head>\n<meta charset=\"utf-8\"/>\n"
        "<title>kiln bench: ", f);
  xml(r->model, f);
  fputs("</title>\n<style>\nbody { font-family: sans-serif; margin: 2em; }\n"
        "svg text { font-size: 12px; }\n.frame { fill: none; stroke: #444; }\n"
        ".grid { stroke: #ddd; }\n.roof { fill: none; stroke: #c33; stroke-width: 2; }\n"
        ".roofnote { fill: #c33; }\n"
        ".kernel { fill: #36c; fill-opacity: 0.45; stroke: #124; }\n"
        ".kernel:hover { fill-opacity: 0.9; }\n"
        "table { border-collapse: collapse; margin-top: 1.5em; }\n"
        "td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }\n"
        "td:nth-child(2), td:nth-child(3), td:nth-child(4) { text-align: left; }\n"
        "</style>\n</head>\n<body>\n<h1>kiln bench: ", f);
  xml(r->model, f);
  fprintf(f, "</h1>\n<p>%d kernels, %d thread%s, median of %d runs; peaks %.1f GFLOP/s and "
          "%.1f GB/s (%s). A circle's area is its kernel's share of the time; hover for its "
          "numbers.</p>\n", r->nkernels, b->threads, b->threads == 1 ? "" : "s", b->repeat,
          b->peak_gflops, b->peak_gbs, b->peaks_measured ? "measured" : "given");
  plot(r, total, f);
  table(r, total, f);
  fputs("</body>\n</html>\n", f);
  fclose(f);
  kiln_status st = kiln_write_file_atomic(path, text, len, NULL, 0, err);
  free(text);
  return st;
}
