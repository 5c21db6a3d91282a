#include "kube/watch_decoder.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "kube/errors.h"

namespace hb::kube {
namespace {

bool ParseType(const std::string& name, WatchEventType* type) {
  if (name == "ADDED") {
    *type = WatchEventType::kAdded;
  } else if (name == "MODIFIED") {
    *type = WatchEventType::kModified;
  } else if (name == "DELETED") {
    *type = WatchEventType::kDeleted;
  } else if (name == "BOOKMARK") {
    *type = WatchEventType::kBookmark;
  } else {
    return false;
  }
  return true;
}

}  // namespace

absl::Status WatchDecoder::Feed(absl::string_view data, const WatchHandler& handler) {
  while (!data.empty()) {
    size_t newline = data.find('\n');
    if (newline == absl::string_view::npos) {
      pending_.append(data.data(), data.size());
      if (pending_.size() > kMaxLine) {
        return absl::InternalError(
            absl::StrCat(what_, ": watch event larger than ", kMaxLine, " bytes"));
      }
      return absl::OkStatus();
    }
    absl::Status status;
    if (pending_.empty()) {
      status = DecodeLine(data.substr(0, newline), handler);
    } else {
      pending_.append(data.data(), newline);
      std::string line = std::move(pending_);
      pending_.clear();
      status = DecodeLine(line, handler);
    }
    if (!status.ok()) return status;
    data.remove_prefix(newline + 1);
  }
  return absl::OkStatus();
}

absl::Status WatchDecoder::Finish(const WatchHandler& handler) {
  std::string line = std::move(pending_);
  pending_.clear();
  return DecodeLine(line, handler);
}

absl::Status WatchDecoder::DecodeLine(absl::string_view line, const WatchHandler& handler) {
  line = absl::StripAsciiWhitespace(line);
  if (line.empty()) return absl::OkStatus();
  auto json = nlohmann::json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  auto type_it = json.is_object() ? json.find("type") : json.end();
  auto object_it = json.is_object() ? json.find("object") : json.end();
  if (type_it == json.end() || !type_it->is_string() || object_it == json.end()) {
    return absl::InternalError(absl::StrCat(
        what_, ": malformed watch event: ", line.substr(0, std::min<size_t>(line.size(), 200))));
  }
  const std::string type_name = type_it->get<std::string>();
  if (type_name == "ERROR") return StatusFromKubeStatus(what_, *object_it);
  WatchEvent event;
  if (!ParseType(type_name, &event.type)) {
    return absl::InternalError(absl::StrCat(what_, ": unknown watch event type ", type_name));
  }
  event.object = std::move(*object_it);
  ++events_;
  return handler(std::move(event));
}

}  // namespace hb::kube
