# pf_add_library(NAME <component> SRCS ... DEPS ...)
#   Creates pf_<component> and the alias pf::<component>, with the project's warnings.
#   Includes are project-absolute from src/ ("imaging/recipe.h").
# pf_add_test(NAME <name> SRCS ... DEPS ... LABEL unit|integration|e2e)
#   Builds a GoogleTest binary and registers its tests with CTest under a label.

set(PF_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough)
if(PF_WERROR)
    list(APPEND PF_WARNINGS -Werror)
endif()

if(PF_SANITIZE)
    add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                        -fno-sanitize-recover=undefined)
    add_link_options(-fsanitize=address,undefined)
endif()

function(pf_add_library)
    cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
    add_library(pf_${ARG_NAME} STATIC ${ARG_SRCS})
    add_library(pf::${ARG_NAME} ALIAS pf_${ARG_NAME})
    target_include_directories(pf_${ARG_NAME} PUBLIC ${PROJECT_SOURCE_DIR}/src)
    target_compile_options(pf_${ARG_NAME} PRIVATE ${PF_WARNINGS})
    target_link_libraries(pf_${ARG_NAME} PUBLIC ${ARG_DEPS})
endfunction()

include(GoogleTest)
function(pf_add_test)
    cmake_parse_arguments(ARG "" "NAME;LABEL" "SRCS;DEPS" ${ARGN})
    add_executable(${ARG_NAME} ${ARG_SRCS})
    target_compile_options(${ARG_NAME} PRIVATE ${PF_WARNINGS})
    target_include_directories(${ARG_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
    target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock)
    target_compile_definitions(${ARG_NAME} PRIVATE
        PF_TEST_DATA_DIR="${PROJECT_SOURCE_DIR}/tests/data"
        PF_BINARY="$<TARGET_FILE:photoflux>")
    gtest_discover_tests(${ARG_NAME}
        PROPERTIES LABELS ${ARG_LABEL}
        DISCOVERY_TIMEOUT 60)
endfunction()
