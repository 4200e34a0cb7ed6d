# pf_embed_assets(TARGET <library> DIR <folder> OUTPUT <generated .cc>)
#   Compiles every file under DIR into the library as a table of console::EmbeddedAsset (path
#   relative to DIR, SHA-256-based ETag, bytes): the web console is served from the binary and
#   needs nothing on disk. Adding or removing a file re-runs the configure step (CONFIGURE_DEPENDS);
#   editing one regenerates the .cc (the custom command depends on every file). Hidden files,
#   editor leftovers (".*", "*~") and README.md files are skipped. The generator is a CMake -P
#   script: no Python at build time.
set(PF_EMBED_ASSETS_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/embed_assets.cmake)

function(pf_embed_assets)
    cmake_parse_arguments(ARG "" "TARGET;DIR;OUTPUT" "" ${ARGN})
    file(GLOB_RECURSE files CONFIGURE_DEPENDS LIST_DIRECTORIES false "${ARG_DIR}/*")
    list(FILTER files EXCLUDE REGEX "(^|/)\\.[^/]*$|~$|(^|/)README\\.md$")
    add_custom_command(
        OUTPUT ${ARG_OUTPUT}
        COMMAND ${CMAKE_COMMAND} -DPF_ASSET_DIR=${ARG_DIR} -DPF_ASSET_OUTPUT=${ARG_OUTPUT}
                -P ${PF_EMBED_ASSETS_SCRIPT}
        DEPENDS ${files} ${PF_EMBED_ASSETS_SCRIPT}
        COMMENT "Embedding web console assets from ${ARG_DIR}"
        VERBATIM)
    target_sources(${ARG_TARGET} PRIVATE ${ARG_OUTPUT})
endfunction()
