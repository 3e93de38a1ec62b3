// A disk-tier directory is tied to its owner (the daemon's origin): another
// owner is refused with both names, or, when asked, gets an empty
// directory; never the first owner's entries.
#include <sys/stat.h>

#include <fstream>

#include "tests/unit/tiers/disk/disk_test_util.h"
#include "tiers/disk/owner_file.h"

using namespace daramjwee;
using namespace daramjwee::tiers;
using namespace daramjwee::tiers::testing;

namespace {

DiskStoreOptions owned(const std::string& dir, std::string owner, bool reset = false) {
  auto o = options_for(dir);
  o.owner = std::move(owner);
  o.reset_foreign = reset;
  return o;
}

}  // namespace

TEST_CASE("disk_owner: another owner is refused, naming the directory and both owners", "[disk]") {
  TempDir tmp;
  std::string dir = tmp.path() + "/cache";
  {
    auto a = open_store(owned(dir, "http://a.example/"));
    REQUIRE(put(*a, "same-key", "A's bytes"));
    REQUIRE(put(*a, "big", pattern(100 << 10, 1)));
  }
  auto b = DiskStore::open(owned(dir, "http://b.example/"));
  REQUIRE_FALSE(b.has_value());
  CHECK(b.error().is(StatusCode::kConfigError));
  CHECK_THAT(b.error().message(), Catch::Contains(dir) && Catch::Contains("http://a.example/") &&
                                      Catch::Contains("http://b.example/") && Catch::Contains("cache_mismatch=reset"));
  // Refusing lost nothing: the owner still finds its entries.
  auto a = open_store(owned(dir, "http://a.example/"));
  CHECK(get_string(*a, "same-key") == "A's bytes");
  CHECK(get_string(*a, "big") == pattern(100 << 10, 1));
}

TEST_CASE("disk_owner: reset empties the directory for the new owner", "[disk]") {
  TempDir tmp;
  std::string dir = tmp.path() + "/cache";
  {
    auto a = open_store(owned(dir, "http://a.example/"));
    REQUIRE(put(*a, "same-key", "A's bytes"));
    REQUIRE(put(*a, "big", pattern(100 << 10, 1)));
  }
  {
    auto b = open_store(owned(dir, "http://b.example/", true));
    CHECK(b->recovery_report().reset_for_owner);
    CHECK_FALSE(get_string(*b, "same-key").has_value());
    CHECK_FALSE(get_string(*b, "big").has_value());
    CHECK(data_files(dir).empty());
    REQUIRE(put(*b, "same-key", "B's bytes"));
  }
  auto recorded = disk_detail::read_owner(dir);
  REQUIRE(recorded.has_value());
  CHECK(*recorded == std::optional<std::string>("http://b.example/"));
  struct stat st {};
  REQUIRE(::stat((dir + "/OWNER").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  // Now B's: A is refused, B (without reset) keeps its entries.
  CHECK_FALSE(DiskStore::open(owned(dir, "http://a.example/")).has_value());
  auto b = open_store(owned(dir, "http://b.example/"));
  CHECK_FALSE(b->recovery_report().reset_for_owner);
  CHECK(get_string(*b, "same-key") == "B's bytes");
}

TEST_CASE("disk_owner: a directory that caches nothing is taken over by another owner", "[disk]") {
  TempDir tmp;
  std::string dir = tmp.path() + "/cache";
  {
    auto typo = open_store(owned(dir, "http://typo.example/"));  // its mount failed: nothing cached
    REQUIRE(put(*typo, "k", "v"));
    REQUIRE(typo->remove("k"));
  }
  auto right = open_store(owned(dir, "http://right.example/"));
  CHECK_FALSE(right->recovery_report().reset_for_owner);
  CHECK(*disk_detail::read_owner(dir) == std::optional<std::string>("http://right.example/"));
}

TEST_CASE("disk_owner: a cache from before owners were recorded is adopted; a bad OWNER is an error", "[disk]") {
  TempDir tmp;
  std::string dir = tmp.path() + "/cache";
  {
    auto s = open_store(options_for(dir));  // no owner: nothing recorded
    REQUIRE(put(*s, "k", "v"));
  }
  CHECK_FALSE(std::filesystem::exists(dir + "/OWNER"));
  {
    auto s = open_store(owned(dir, "file:///srv/a"));
    CHECK(get_string(*s, "k") == "v");
  }
  CHECK(*disk_detail::read_owner(dir) == std::optional<std::string>("file:///srv/a"));
  std::ofstream(dir + "/OWNER") << "something else\n";
  auto s = DiskStore::open(owned(dir, "file:///srv/a"));
  REQUIRE_FALSE(s.has_value());
  CHECK_THAT(s.error().message(), Catch::Contains("not a daramjwee-fs owner file"));
  CHECK_FALSE(DiskStore::open(owned(dir, "two\nlines")).has_value());
}
