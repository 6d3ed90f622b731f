#include "engine/core/trace_context.hpp"

#include <gtest/gtest.h>

namespace keyflow {
namespace {

TEST(TraceContext, AcceptsOnlyWellFormedTraceparents) {
  const std::string ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  EXPECT_EQ(valid_traceparent(ok), ok);
  EXPECT_EQ(valid_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  for (const std::string bad : {
           "",
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",    // upper case
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",    // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",    // zero parent id
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // forbidden version
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  // 00 has no more
           "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
           "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nx: y",
       }) {
    EXPECT_FALSE(valid_traceparent(bad)) << bad;
  }
  // A later version: its known fields, what follows them dropped.
  EXPECT_EQ(valid_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-abc"),
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  EXPECT_FALSE(valid_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01abc"));
}

TEST(TraceContext, TheScopeHoldsTheCurrentTraceForItsLength) {
  EXPECT_EQ(TraceScope::current(), "");
  {
    const TraceScope outer("a");
    EXPECT_EQ(TraceScope::current(), "a");
    {
      const TraceScope inner("b");
      EXPECT_EQ(TraceScope::current(), "b");
    }
    EXPECT_EQ(TraceScope::current(), "a");
  }
  EXPECT_EQ(TraceScope::current(), "");
}

}  // namespace
}  // namespace keyflow
