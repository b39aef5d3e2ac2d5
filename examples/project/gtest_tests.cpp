// A GoogleTest suite that knows nothing of tend: it includes gtest only, and
// its main() comes from the build (tend's gtest main). C++14.
#include <gtest/gtest.h>

#include <memory>
#include <numeric>
#include <vector>

static_assert(__cplusplus == 201402L, "the recipe builds this suite as C++14");

TEST(Sum, OfNothingIsZero) {
    std::vector<int> none;
    EXPECT_EQ(std::accumulate(none.begin(), none.end(), 0), 0);
}

class Buffer : public ::testing::Test {
  protected:
    void SetUp() override { data_ = std::make_unique<std::vector<int>>(3, 7); }
    std::unique_ptr<std::vector<int>> data_;
};

TEST_F(Buffer, StartsFull) {
    EXPECT_EQ(data_->size(), 3u);
}

class Square : public ::testing::TestWithParam<int> {};

TEST_P(Square, IsNotNegative) {
    auto square = [](auto x) { return x * x; };
    EXPECT_GE(square(GetParam()), 0);
}

INSTANTIATE_TEST_SUITE_P(Small, Square, ::testing::Values(-2, 0, 3));
