// GoogleTest entry point: logs at LOG_LEVEL (default warning) so test output stays readable.
#include <gtest/gtest.h>

#include <cstdlib>

#include "common/log.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const char* level = std::getenv("LOG_LEVEL");
  auto parsed = hb::ParseLogLevel(level != nullptr ? level : "warning");
  hb::Logger::Default().Configure(parsed.ok() ? *parsed : hb::LogLevel::kWarning,
                                  hb::LogFormat::kText);
  return RUN_ALL_TESTS();
}
