// The Prometheus text keyflow renders: counters, histograms with labels, gauge families.
#include "engine/core/metrics.hpp"

#include <gtest/gtest.h>

namespace keyflow {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.starts_with(line + "\n");
}

TEST(Metrics, AHistogramRendersCumulativeBucketsSumAndCountWithItsLabels) {
  Metrics metrics;
  auto& h =
      metrics.histogram("keyflow_attempt_seconds{queue=\"deliver\"}", "Attempt time", {0.1, 1});
  h.observe(0.05);
  h.observe(0.1);  // on a bound: counted in it (le is "at most")
  h.observe(0.5);
  h.observe(7);
  const auto text = metrics.render();
  EXPECT_TRUE(has_line(text, "# TYPE keyflow_attempt_seconds histogram")) << text;
  EXPECT_TRUE(has_line(text, "keyflow_attempt_seconds_bucket{queue=\"deliver\",le=\"0.1\"} 2"))
      << text;
  EXPECT_TRUE(has_line(text, "keyflow_attempt_seconds_bucket{queue=\"deliver\",le=\"1\"} 3"));
  EXPECT_TRUE(has_line(text, "keyflow_attempt_seconds_bucket{queue=\"deliver\",le=\"+Inf\"} 4"));
  EXPECT_TRUE(has_line(text, "keyflow_attempt_seconds_sum{queue=\"deliver\"} 7.65")) << text;
  EXPECT_TRUE(has_line(text, "keyflow_attempt_seconds_count{queue=\"deliver\"} 4"));
}

TEST(Metrics, AGaugeFamilyRendersWhatItsReaderReturnsAtScrapeTime) {
  Metrics metrics;
  std::vector<Metrics::Sample> samples{{"{subscription_id=\"7\"}", 3}};
  metrics.gauges("keyflow_pending", "Pending", [&] { return samples; });
  auto text = metrics.render();
  EXPECT_TRUE(has_line(text, "# TYPE keyflow_pending gauge")) << text;
  EXPECT_TRUE(has_line(text, "keyflow_pending{subscription_id=\"7\"} 3")) << text;
  samples = {{"{subscription_id=\"8\"}", 1}, {"{subscription_id=\"9\"}", 2}};
  text = metrics.render();
  EXPECT_EQ(text.find("subscription_id=\"7\""), std::string::npos) << text;
  EXPECT_TRUE(has_line(text, "keyflow_pending{subscription_id=\"9\"} 2")) << text;
}

TEST(Metrics, CountersOfOneFamilyShareItsHeader) {
  Metrics metrics;
  metrics.counter("keyflow_x_total{outcome=\"a\"}", "X").inc(2);
  metrics.counter("keyflow_x_total{outcome=\"b\"}", "X").inc();
  const auto text = metrics.render();
  EXPECT_TRUE(has_line(text, "# TYPE keyflow_x_total counter"));
  EXPECT_TRUE(has_line(text, "keyflow_x_total{outcome=\"a\"} 2"));
  EXPECT_TRUE(has_line(text, "keyflow_x_total{outcome=\"b\"} 1"));
  EXPECT_EQ(text.find("# HELP keyflow_x_total"), text.rfind("# HELP keyflow_x_total"));
}

}  // namespace
}  // namespace keyflow
