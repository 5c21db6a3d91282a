// Process-wide logging in two formats:
//   text (default, the original heartbeat service's format):
//     2025-11-15 22:30:00 - heartbeat - INFO - Lease lost; re-granting id=chora.devex.registry
//   json (one object per line):
//     {"time":"2025-11-15T22:30:00.000Z","level":"info","logger":"heartbeat","msg":"...","id":"..."}
//
// Structured fields are appended as key=value in text. Secrets must never be passed in.
// Thread-safe: a line is written atomically.
#pragma once

#include <initializer_list>
#include <iosfwd>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "nlohmann/json.hpp"

namespace hb {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };
enum class LogFormat { kText, kJson };

// "debug", "info", "warning"/"warn", "error" (any case).
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view text);
// "text" or "json".
absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view text);

using LogField = std::pair<std::string, nlohmann::json>;

class Logger {
 public:
  // The process-wide logger, writing text at info level to stderr until configured.
  static Logger& Default();

  void Configure(LogLevel level, LogFormat format, std::string name = "heartbeat");
  // Redirects output (tests); `out` must outlive the logger's use.
  void SetOutput(std::ostream* out);
  bool Enabled(LogLevel level) const { return level >= level_; }
  void Log(LogLevel level, absl::string_view msg, std::initializer_list<LogField> fields = {});

 private:
  Logger();
  std::string Render(LogLevel level, absl::string_view msg,
                     std::initializer_list<LogField> fields) const;

  LogLevel level_ = LogLevel::kInfo;  // read without the lock: set once at start-up
  LogFormat format_ = LogFormat::kText;
  std::string name_ = "heartbeat";
  absl::Mutex mu_;
  std::ostream* out_ ABSL_GUARDED_BY(mu_);
};

// Whether debug lines are written: a hot path checks it before building a line's fields
// (which LogDebug's arguments build even when the line is dropped).
inline bool DebugLogging() { return Logger::Default().Enabled(LogLevel::kDebug); }
inline void LogDebug(absl::string_view msg, std::initializer_list<LogField> fields = {}) {
  if (Logger::Default().Enabled(LogLevel::kDebug))
    Logger::Default().Log(LogLevel::kDebug, msg, fields);
}
inline void LogInfo(absl::string_view msg, std::initializer_list<LogField> fields = {}) {
  Logger::Default().Log(LogLevel::kInfo, msg, fields);
}
inline void LogWarning(absl::string_view msg, std::initializer_list<LogField> fields = {}) {
  Logger::Default().Log(LogLevel::kWarning, msg, fields);
}
inline void LogError(absl::string_view msg, std::initializer_list<LogField> fields = {}) {
  Logger::Default().Log(LogLevel::kError, msg, fields);
}

}  // namespace hb
