// The pages behind the login: one restored from the browser's back/forward cache (after a
// logout, say) would show the user's page without asking the server. Chromium keeps such pages
// there despite Cache-Control: no-store, so they reload: the server then decides (a 303 to
// /login once the session is gone).
addEventListener("pageshow", (e) => {
  if (e.persisted) location.reload();
});
