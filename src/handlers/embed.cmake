# Turns a file into C source: cmake -DIN=file -DOUT=file.c -DNAME=symbol -DHEADER=h -P embed.cmake
# defines `const char NAME[]` (the bytes and a NUL) and `const size_t NAME_len`. Run at build
# time, so the file (the status page) is edited as what it is, not as a C string.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" hexlen)
math(EXPR len "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n"
       bytes "${bytes}")
file(WRITE "${OUT}.tmp"
     "/* Generated from ${IN} by embed.cmake: do not edit. */\n"
     "#include \"${HEADER}\"\n\n"
     "const char ${NAME}[] = {\n${bytes}0x00};\n"
     "const size_t ${NAME}_len = ${len};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
