#include "base/file_io.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace pf {
namespace {

class FileIo : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("pf-file-io-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::filesystem::path dir_;
};

TEST_F(FileIo, WritesAtomicallyCreatingFoldersAndLeavesNoTempFiles) {
    auto path = dir_ / "a" / "b" / "manifest.json";
    ASSERT_TRUE(write_file_atomic(path, "first").has_value());
    ASSERT_TRUE(write_file_atomic(path, "second, longer").has_value());
    auto back = read_file(path, 1024);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, "second, longer");
    int entries = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(path.parent_path())) {
        ++entries;
    }
    EXPECT_EQ(entries, 1) << "a temporary file was left behind";
}

TEST_F(FileIo, ReadRefusesFilesOverTheLimitBeforeReadingThem) {
    auto path = dir_ / "big.bin";
    ASSERT_TRUE(write_file_atomic(path, std::string(2048, 'x')).has_value());
    auto r = read_file(path, 1024);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::TooLarge);
    EXPECT_NE(r.error().message.find("2048 bytes, over the limit of 1024"), std::string::npos);
}

TEST_F(FileIo, MissingFilesAndFoldersAreTypedErrors) {
    auto missing = read_file(dir_ / "nope", 10);
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().code, ErrorCode::NotFound);
    std::filesystem::create_directories(dir_);
    auto folder = read_file(dir_, 10);
    ASSERT_FALSE(folder.has_value());
    EXPECT_EQ(folder.error().code, ErrorCode::InvalidArgument);
}

TEST_F(FileIo, AWriteIntoAFileWhereAFolderShouldBeFails) {
    ASSERT_TRUE(write_file_atomic(dir_ / "blocker", "x").has_value());
    auto r = write_file_atomic(dir_ / "blocker" / "inside.txt", "y");
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("cannot create directory"), std::string::npos);
}

TEST(Result, CarriesAValueOrAnErrorThatSaysWhatToDo) {
    Result<int> ok = 42;
    ASSERT_TRUE(ok.has_value());
    EXPECT_EQ(*ok, 42);
    Result<int> failed = make_error(ErrorCode::Timeout, "took 31 s", "Too slow");
    ASSERT_FALSE(failed.has_value());
    EXPECT_TRUE(failed.error().retryable());
    EXPECT_EQ(failed.error().client_message(), "Too slow");
    EXPECT_FALSE(make_error(ErrorCode::CorruptInput, "bad").retryable());
    EXPECT_EQ(make_error(ErrorCode::CorruptInput, "bad").client_message(), "bad");
    EXPECT_EQ(to_string(ErrorCode::LimitExceeded), "LimitExceeded");
}

}  // namespace
}  // namespace pf
