// InodeTable, the namespace codecs and the fill table.
#include <thread>

#include <catch2/catch.hpp>

#include "fs/errors.h"
#include "fs/inode_table.h"
#include "fs/namespace.h"
#include "fs/readahead.h"
#include "tests/unit/fs/ram_cache.h"
#include "tests/unit/fs/tree_origin.h"

using namespace daramjwee;
using namespace daramjwee::fs;

TEST_CASE("inode_table: numbers are stable per path and counted", "[fs]") {
  InodeTable t;
  CHECK(t.path_of(kRootIno) == std::string());
  uint64_t a = t.acquire("a/b");
  CHECK(a > 1);
  CHECK(t.peek("a/b") == a);
  CHECK(t.acquire("a/b") == a);
  t.forget(a, 1);
  CHECK(t.path_of(a) == std::string("a/b"));
  t.forget(a, 1);
  CHECK_FALSE(t.path_of(a));
  CHECK(t.acquire("a/b") == a);  // same number after a forget
  t.forget(kRootIno, 100);
  CHECK(t.path_of(kRootIno));
  CHECK(t.exchange_version(a, "v1") == "");
  CHECK(t.exchange_version(a, "v2") == "v1");
  CHECK(t.find("a/b") == a);
  CHECK_FALSE(t.find("zzz"));
}

TEST_CASE("namespace: listing and attr codecs round-trip and reject garbage", "[fs]") {
  std::vector<DirEntry> entries;
  FileAttr f;
  f.size = 12345;
  f.mtime_ns = 42;
  f.etag = "\"x\"";
  f.mode = 0644;
  entries.push_back({"a file", f});
  FileAttr d;
  d.type = FileType::kDirectory;
  entries.push_back({"ünï", d});
  std::string enc = encode_listing(entries);
  auto dec = decode_listing(enc);
  REQUIRE(dec);
  REQUIRE((*dec)->entries.size() == 2);
  CHECK((*dec)->find("a file")->attr.etag == "\"x\"");
  CHECK((*dec)->find("a file")->attr.size == 12345);
  CHECK((*dec)->find("ünï")->attr.type == FileType::kDirectory);
  CHECK((*dec)->find("nope") == nullptr);
  for (size_t cut = 0; cut < enc.size(); cut += 3) {
    CHECK_FALSE(decode_listing(enc.substr(0, cut)));
  }
  CHECK_FALSE(decode_listing(enc + "x"));
  auto attr = decode_attr(encode_attr(f));
  REQUIRE(attr);
  CHECK(attr->size == 12345);
  CHECK_FALSE(decode_attr("\x01\x05"));
  CHECK(version_of(f) == "\"x\"");
  f.etag.clear();
  CHECK(version_of(f) == "s12345-m42");
  CHECK(split_path("a/b/c") == std::pair<std::string_view, std::string_view>("a/b", "c"));
  CHECK(split_path("c") == std::pair<std::string_view, std::string_view>("", "c"));
  CHECK(join_path("", "x") == "x");
  CHECK(join_path("a", "x") == "a/x");
}

TEST_CASE("readahead: chunk keys separate versions; fills wake their waiters", "[fs]") {
  CHECK(chunk_key("p", "v1", 0) != chunk_key("p", "v2", 0));
  CHECK(chunk_key("p", "v1", 1) != chunk_key("p", "v1", 10));
  FileRef f;
  f.size = 10;
  f.chunk_size = 4;
  CHECK(f.chunk_count() == 3);
  CHECK(f.chunk_length(2) == 2);
  CHECK(f.chunk_length(3) == 0);

  FillTable table;
  auto [fill, leader] = table.join_or_lead("k");
  CHECK(leader);
  auto [same, second] = table.join_or_lead("k");
  CHECK_FALSE(second);
  CHECK(same == fill);
  Result<SharedBytes> got = Status::internal("unset");
  std::thread waiter([&, f2 = same] { got = FillTable::wait(*f2, std::chrono::seconds(5)); });
  auto data = std::make_shared<const Bytes>(Bytes::copy_of(std::string_view("abc")));
  FillTable::finish(*fill, Status::ok(), data);
  table.erase("k", fill);
  waiter.join();
  REQUIRE(got);
  CHECK((*got)->view() == "abc");
  CHECK_FALSE(table.contains("k"));
  auto [lonely, l2] = table.join_or_lead("slow");
  CHECK(FillTable::wait(*lonely, std::chrono::milliseconds(20)).error().is(StatusCode::kTimeout));
}

TEST_CASE("errors: every Errc maps to an errno", "[fs]") {
  CHECK(to_errno(Errc::kNotFound) == ENOENT);
  CHECK(to_errno(Errc::kOriginError) == EIO);
  CHECK(to_errno(Errc::kNoData) == ENODATA);
  CHECK(errc_from_status(Status::not_found()) == Errc::kNotFound);
  CHECK(errc_from_status(Status::changed_at_origin("x")) == Errc::kVersionChanged);
  CHECK(errc_from_status(Status::timeout("x")) == Errc::kOriginError);
  CHECK(errc_from_status(Status::permission_denied("x")) == Errc::kAccess);
  CHECK(is_failure(Errc::kOriginError));
  CHECK_FALSE(is_failure(Errc::kNotFound));
}

TEST_CASE("readahead: a reader stuck behind a fill that never finishes fetches the chunk itself", "[fs]") {
  auto origin = std::make_shared<testing::TreeOrigin>();
  origin->put_file("f", "0123456789", "\"e\"");
  auto source = std::make_shared<ChunkSource>();
  source->origin = origin;
  source->fills = std::make_shared<FillTable>();
  source->fill_wait = std::chrono::milliseconds(50);
  auto file = std::make_shared<FileRef>();
  file->path = "f";
  file->version = "\"e\"";
  file->etag = "\"e\"";
  file->size = 10;
  file->chunk_size = 4;
  const std::string key = chunk_key("f", "\"e\"", 1);
  auto [stuck, leader] = source->fills->join_or_lead(key);  // e.g. a prefetch still queued
  REQUIRE(leader);
  auto fetched = make_chunk_fetcher(source, file, 1, std::chrono::steady_clock::now() + std::chrono::seconds(10))->fetch(key, nullptr);
  REQUIRE(fetched);
  auto& body = std::get<FetchedBody>(*fetched);
  auto bytes = read_all(*body.body);
  REQUIRE(bytes);
  CHECK(bytes->view() == "4567");
  CHECK(origin->reads == 1);
  // A cached copy of the same version is never refetched.
  Metadata cached;
  cached.etag = "\"e\"";
  auto again = make_chunk_fetcher(source, file, 1, std::chrono::steady_clock::now() + std::chrono::seconds(10))->fetch(key, &cached);
  REQUIRE(again);
  CHECK(std::holds_alternative<NotModified>(*again));
  CHECK(origin->reads == 1);
  FillTable::finish(*stuck, FillTable::skipped(), nullptr);
}

TEST_CASE("readahead: the windows of all sequential readers share budget_bytes (issue 15)", "[fs]") {
  auto origin = std::make_shared<testing::TreeOrigin>();
  std::shared_ptr<Cache> cache = testing::ram_cache(1 << 20);
  auto source = std::make_shared<ChunkSource>();
  source->origin = origin;
  source->fills = std::make_shared<FillTable>();
  PrefetchOptions po;
  po.threads = 1;
  po.max_window_bytes = 64 * 4;  // 64 chunks of 4 bytes
  po.budget_bytes = 8 * 4;       // 8 chunks for everyone together
  Prefetcher prefetcher(po, cache, source);
  auto file = [&](const std::string& name) {
    origin->put_file(name, std::string(4 * 100, 'x'), "\"e\"");
    auto f = std::make_shared<FileRef>();
    f->path = name;
    f->version = f->etag = "\"e\"";
    f->size = 4 * 100;
    f->chunk_size = 4;
    return f;
  };
  auto a = file("a"), b = file("b");
  ReadaheadState sa, sb;
  // Both read sequentially, chunk by chunk: the windows double, but two
  // streams get at most 4 chunks each.
  for (uint64_t i = 0; i < 20; i++) {
    prefetcher.on_read(sa, a, i * 4, i * 4 + 4);
    prefetcher.on_read(sb, b, i * 4, i * 4 + 4);
    CHECK(sa.window <= 4);
    CHECK(sb.window <= 4);
  }
  CHECK(sa.window == 4);
  // One stream closes: the other may use the whole budget.
  prefetcher.on_close(sb);
  for (uint64_t i = 20; i < 30; i++) prefetcher.on_read(sa, a, i * 4, i * 4 + 4);
  CHECK(sa.window == 8);
  prefetcher.on_close(sa);
  prefetcher.shutdown();
  ignore_error(cache->close());
}
