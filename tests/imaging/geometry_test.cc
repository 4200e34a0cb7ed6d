#include "imaging/geometry.h"

#include <gtest/gtest.h>

namespace pf::imaging {
namespace {

Resize box(int w, int h, Fit fit, bool enlarge = false, Gravity g = Gravity::Centre) {
    Resize r;
    r.width = w;
    r.height = h;
    r.fit = fit;
    r.enlarge = enlarge;
    r.gravity = g;
    return r;
}

TEST(Geometry, EveryFitModeGivesItsExactSize) {
    const Size photo{4000, 3000};
    EXPECT_EQ(plan_resize(photo, box(800, 800, Fit::Inside)).final_size, (Size{800, 600}));
    EXPECT_EQ(plan_resize(photo, box(800, 800, Fit::Outside)).final_size, (Size{1067, 800}));
    EXPECT_EQ(plan_resize(photo, box(800, 800, Fit::Cover)).final_size, (Size{800, 800}));
    EXPECT_EQ(plan_resize(photo, box(800, 800, Fit::Contain)).final_size, (Size{800, 800}));
    EXPECT_EQ(plan_resize(photo, box(800, 800, Fit::Fill)).final_size, (Size{800, 800}));
}

TEST(Geometry, CoverScalesToFillThenCropsAtTheGravity) {
    auto plan = plan_resize({4000, 3000}, box(800, 800, Fit::Cover, false, Gravity::East));
    EXPECT_EQ(plan.scaled, (Size{1067, 800}));
    ASSERT_TRUE(plan.crop);
    EXPECT_EQ(*plan.crop, (Rect{267, 0, 800, 800}));
    EXPECT_FALSE(plan.embed);
    auto west = plan_resize({4000, 3000}, box(800, 800, Fit::Cover, false, Gravity::West));
    EXPECT_EQ(west.crop->left, 0);
    auto centre = plan_resize({4000, 3000}, box(800, 800, Fit::Cover));
    EXPECT_EQ(centre.crop->left, 133);
}

TEST(Geometry, ContainLetterboxesAtTheGravity) {
    auto plan = plan_resize({4000, 3000}, box(800, 800, Fit::Contain, false, Gravity::South));
    EXPECT_EQ(plan.scaled, (Size{800, 600}));
    ASSERT_TRUE(plan.embed);
    EXPECT_EQ(*plan.embed, (Rect{0, 200, 800, 600}));
    EXPECT_EQ(plan.final_size, (Size{800, 800}));
}

TEST(Geometry, NoEnlargementUnlessAsked) {
    const Size small{200, 100};
    EXPECT_EQ(plan_resize(small, box(800, 800, Fit::Inside)).final_size, small);
    EXPECT_EQ(plan_resize(small, box(800, 800, Fit::Inside, true)).final_size, (Size{800, 400}));
    EXPECT_EQ(plan_resize(small, box(800, 800, Fit::Outside)).final_size, small);
    EXPECT_EQ(plan_resize(small, box(800, 400, Fit::Fill)).final_size, small);
    EXPECT_EQ(plan_resize(small, box(100, 400, Fit::Fill)).final_size, (Size{100, 100}));
    // Cover keeps the box's shape at the source's own resolution.
    EXPECT_EQ(plan_resize(small, box(320, 320, Fit::Cover)).final_size, (Size{100, 100}));
    EXPECT_EQ(plan_resize(small, box(320, 320, Fit::Cover, true)).final_size, (Size{320, 320}));
    // Contain keeps the box's shape around the unscaled source.
    auto contain = plan_resize(small, box(400, 400, Fit::Contain));
    EXPECT_EQ(contain.final_size, (Size{200, 200}));
    EXPECT_EQ(contain.scaled, small);
    EXPECT_EQ(*contain.embed, (Rect{0, 50, 200, 100}));
}

TEST(Geometry, OneSideGivenKeepsTheAspect) {
    Resize w;
    w.width = 1000;
    EXPECT_EQ(plan_resize({4000, 3000}, w).final_size, (Size{1000, 750}));
    Resize h;
    h.height = 300;
    EXPECT_EQ(plan_resize({4000, 3000}, h).final_size, (Size{400, 300}));
    EXPECT_EQ(plan_resize({200, 100}, w).final_size, (Size{200, 100}));
}

TEST(Geometry, NoResizeKeepsTheSize) {
    EXPECT_EQ(plan_resize({123, 45}, std::nullopt).final_size, (Size{123, 45}));
}

TEST(Geometry, ExtremeAspectRatiosNeverReachZero) {
    auto plan = plan_resize({10000, 2}, box(100, 100, Fit::Inside));
    EXPECT_EQ(plan.final_size, (Size{100, 1}));
    plan = plan_resize({1, 5000}, box(64, 64, Fit::Cover));
    EXPECT_EQ(plan.final_size, (Size{1, 1}));
}

TEST(Geometry, PlacesAtEveryCompassPointWithMargin) {
    const Size canvas{100, 50}, item{20, 10};
    EXPECT_EQ(place(canvas, item, Gravity::NorthWest, 5), (Rect{5, 5, 20, 10}));
    EXPECT_EQ(place(canvas, item, Gravity::North, 5), (Rect{40, 5, 20, 10}));
    EXPECT_EQ(place(canvas, item, Gravity::NorthEast, 5), (Rect{75, 5, 20, 10}));
    EXPECT_EQ(place(canvas, item, Gravity::East, 5), (Rect{75, 20, 20, 10}));
    EXPECT_EQ(place(canvas, item, Gravity::SouthEast, 5), (Rect{75, 35, 20, 10}));
    EXPECT_EQ(place(canvas, item, Gravity::South, 5), (Rect{40, 35, 20, 10}));
    EXPECT_EQ(place(canvas, item, Gravity::SouthWest, 5), (Rect{5, 35, 20, 10}));
    EXPECT_EQ(place(canvas, item, Gravity::West, 5), (Rect{5, 20, 20, 10}));
    EXPECT_EQ(place(canvas, item, Gravity::Centre, 5), (Rect{40, 20, 20, 10}));
}

TEST(Geometry, ClipsCropsToTheSource) {
    EXPECT_EQ(*clip_crop({100, 100}, Crop{90, 90, 50, 50}), (Rect{90, 90, 10, 10}));
    EXPECT_FALSE(clip_crop({100, 100}, Crop{100, 0, 10, 10}));
}

TEST(Geometry, ShrinkOnLoadNeverGoesBelowTheOutputsSize) {
    EXPECT_DOUBLE_EQ(load_shrink_allowance({4000, 3000}, {400, 300}), 10.0);
    EXPECT_DOUBLE_EQ(load_shrink_allowance({4000, 3000}, {3000, 2250}), 4000.0 / 3000.0);
    EXPECT_DOUBLE_EQ(load_shrink_allowance({4000, 3000}, {5000, 3750}), 1.0);
    // Fill squashes: the less-shrunk axis decides.
    EXPECT_DOUBLE_EQ(load_shrink_allowance({4000, 3000}, {100, 1500}), 2.0);
}

}  // namespace
}  // namespace pf::imaging
