# cmake -DOUT=<file.cpp> -DSQL_DIR=<dir> -P EmbedSql.cmake
# Writes a source file holding every schemas/sql/*.sql, in name order, as raw string literals.
file(GLOB files "${SQL_DIR}/*.sql")
list(SORT files)
set(body "#include \"engine/store/migrations.hpp\"\n\nnamespace keyflow {\n\nconst std::vector<Migration>& embedded_migrations() {\n  static const std::vector<Migration> migrations = {\n")
foreach(f IN LISTS files)
  get_filename_component(name "${f}" NAME)
  file(READ "${f}" sql)
  string(APPEND body "      {\"${name}\", R\"kfsql(${sql})kfsql\"},\n")
endforeach()
string(APPEND body "  };\n  return migrations;\n}\n\n}  // namespace keyflow\n")
file(WRITE "${OUT}.tmp" "${body}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
