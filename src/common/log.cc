#include "common/log.h"

#include <algorithm>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/time_format.h"

namespace hb {
namespace {

const char* UpperName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarning:
      return "WARNING";
    case LogLevel::kError:
      return "ERROR";
  }
  return "INFO";
}

bool IsControl(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }

// A text-format value: bare when it is one plain token, else JSON-quoted (escaped).
std::string TextValue(const nlohmann::json& value) {
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    bool plain = !s.empty() && s.find_first_of(" \"=\\") == std::string::npos &&
                 std::none_of(s.begin(), s.end(), IsControl);
    if (plain) return s;
  }
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The message with control characters escaped: one event is always one line.
std::string TextMessage(absl::string_view msg) {
  if (std::none_of(msg.begin(), msg.end(), IsControl)) return std::string(msg);
  std::string out;
  for (char c : msg) {
    if (!IsControl(c)) {
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      absl::StrAppend(&out, "\\x", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view text) {
  std::string lower = absl::AsciiStrToLower(text);
  if (lower == "debug") return LogLevel::kDebug;
  if (lower == "info") return LogLevel::kInfo;
  if (lower == "warning" || lower == "warn") return LogLevel::kWarning;
  if (lower == "error") return LogLevel::kError;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log level \"", text, "\" (expected debug, info, warning or error)"));
}

absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view text) {
  std::string lower = absl::AsciiStrToLower(text);
  if (lower == "text") return LogFormat::kText;
  if (lower == "json") return LogFormat::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log format \"", text, "\" (expected text or json)"));
}

Logger& Logger::Default() {
  static auto* logger = new Logger();
  return *logger;
}

Logger::Logger() : out_(&std::cerr) {}

void Logger::Configure(LogLevel level, LogFormat format, std::string name) {
  level_ = level;
  format_ = format;
  name_ = std::move(name);
}

void Logger::SetOutput(std::ostream* out) {
  absl::MutexLock lock(&mu_);
  out_ = out;
}

std::string Logger::Render(LogLevel level, absl::string_view msg,
                           std::initializer_list<LogField> fields) const {
  absl::Time now = absl::Now();
  if (format_ == LogFormat::kJson) {
    nlohmann::json line = {{"time", FormatRfc3339(now)},
                           {"level", absl::AsciiStrToLower(UpperName(level))},
                           {"logger", name_},
                           {"msg", std::string(msg)}};
    for (const auto& [key, value] : fields) line[key] = value;
    return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::string line = absl::StrCat(absl::FormatTime("%Y-%m-%d %H:%M:%S", now, absl::UTCTimeZone()),
                                  " - ", name_, " - ", UpperName(level), " - ", TextMessage(msg));
  for (const auto& [key, value] : fields) absl::StrAppend(&line, " ", key, "=", TextValue(value));
  return line;
}

void Logger::Log(LogLevel level, absl::string_view msg, std::initializer_list<LogField> fields) {
  if (!Enabled(level)) return;
  std::string line = Render(level, msg, fields);
  line.push_back('\n');
  absl::MutexLock lock(&mu_);
  out_->write(line.data(), static_cast<std::streamsize>(line.size()));
  out_->flush();
}

}  // namespace hb
