/* Anchor source for libdlenergy: all code comes from the module archives. */
int dle_library_anchor_(void);
int dle_library_anchor_(void) { return 0; }
