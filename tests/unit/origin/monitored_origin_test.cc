// MonitoredOrigin: reachability from the outcomes of requests, one state
// change per transition (issue 14, finding 5).
#include "origin/monitored_origin.h"

#include <catch2/catch.hpp>

namespace daramjwee::origin {
namespace {

// Answers every request with `next`.
class ScriptedOrigin final : public Origin {
 public:
  Status next = Status::ok();
  std::string describe() const override { return "scripted://"; }
  Result<FileAttr> stat(std::string_view) override {
    if (!next.is_ok()) return next;
    return FileAttr{};
  }
  Result<std::vector<DirEntry>> list(std::string_view) override {
    if (!next.is_ok()) return next;
    return std::vector<DirEntry>{};
  }
  Result<std::unique_ptr<Reader>> read(std::string_view, std::string_view, ByteRange) override { return next; }
  Result<FileAttr> revalidate(std::string_view, std::string_view) override {
    if (!next.is_ok()) return next;
    return Status::not_modified();
  }
};

TEST_CASE("monitored origin: down on unreachable errors, up on any answer", "[origin]") {
  auto inner = std::make_shared<ScriptedOrigin>();
  MonitoredOrigin m(inner);
  CHECK(m.health().state == Reachability::kUnknown);
  CHECK(m.stat("a"));
  CHECK(m.health().state == Reachability::kUp);
  CHECK(m.health().changes == 0);  // unknown -> up is not a change of an observed state

  inner->next = Status::io_error("connection refused", true);
  for (int i = 0; i < 5; i++) CHECK_FALSE(m.stat("a"));
  OriginHealth h = m.health();
  CHECK(h.state == Reachability::kDown);
  CHECK(h.failures == 5);
  CHECK(h.changes == 1);
  CHECK(h.last_error.find("connection refused") != std::string::npos);

  // The server answering "not found", "denied" or "changed" is reachable.
  inner->next = Status::not_found("x");
  CHECK_FALSE(m.list("d"));
  CHECK(m.health().state == Reachability::kUp);
  inner->next = Status::timeout("slow");
  CHECK_FALSE(m.read("a", "", ByteRange{}));
  CHECK(m.health().state == Reachability::kDown);
  inner->next = Status::ok();
  CHECK_FALSE(m.revalidate("a", "\"e\""));  // not modified: an answer
  CHECK(m.health().state == Reachability::kUp);
  CHECK(m.health().changes == 4);  // down, up, down, up
}

}  // namespace
}  // namespace daramjwee::origin
