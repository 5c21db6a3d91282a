// FakePoster: an HttpPoster that records every POST and answers from a script (by default
// 200), for the sinks' unit tests. Thread-safe.
#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "alert/http_poster.h"

namespace hb::alert {

struct PostedRequest {
  std::string url;
  std::vector<std::string> headers;
  std::string body;
};

struct FakePosterState {
  std::mutex mu;
  std::vector<PostedRequest> requests;
  std::deque<PostResult> script;  // answers in order; empty: 200

  std::string Header(size_t request, const std::string& name) {
    std::lock_guard<std::mutex> lock(mu);
    for (const std::string& h : requests.at(request).headers) {
      if (h.rfind(name + ": ", 0) == 0) return h.substr(name.size() + 2);
    }
    return "";
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return requests.size();
  }
};

class FakePoster final : public HttpPoster {
 public:
  explicit FakePoster(std::shared_ptr<FakePosterState> state) : state_(std::move(state)) {}
  PostResult Post(const std::string& url, const std::vector<std::string>& headers,
                  const std::string& body, absl::Duration /*timeout*/) override {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->requests.push_back({url, headers, body});
    if (state_->script.empty()) return PostResult{200, ""};
    PostResult r = state_->script.front();
    state_->script.pop_front();
    return r;
  }

 private:
  std::shared_ptr<FakePosterState> state_;
};

}  // namespace hb::alert
