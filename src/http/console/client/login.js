/**
 * The login form, shown when the API answers 401 (the broker has [auth]
 * users or tokens). Sign in with a user name and password (HTTP Basic) or an
 * API token (Bearer). The credentials are checked against the API before they
 * are kept in sessionStorage (api.js); nothing is sent anywhere else.
 */
import { api, basicAuthorization, setAuthorization } from "./api.js";
import { errorText, formValues, h, notice } from "./dom.js";

/** Render the form into `main`; `done()` runs after a successful login. */
export function renderLogin(main, done) {
  const result = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    { class: "login panel", "data-testid": "login-form" },
    h(
      "p",
      { class: "muted" },
      "This broker requires credentials: a user name and password, or an API token.",
    ),
    h("label", null, "User name", h("input", { name: "user", autocomplete: "username" })),
    h(
      "label",
      null,
      "Password",
      h("input", { name: "password", type: "password", autocomplete: "current-password" }),
    ),
    h("div", { class: "muted login-or" }, "or"),
    h("label", null, "API token", h("input", { name: "token", type: "password", autocomplete: "off" })),
    submit,
    result,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const v = formValues(form);
    result.replaceChildren();
    let header;
    if (v.token.trim() !== "") header = `Bearer ${v.token.trim()}`;
    else if (v.user !== "") header = basicAuthorization(v.user, v.password);
    else {
      result.append(notice("error", "Enter a user name and password, or an API token."));
      return;
    }
    submit.disabled = true;
    try {
      await api("GET", "/v1/topics", undefined, { authorization: header });
      setAuthorization(header);
      done();
    } catch (err) {
      const text =
        err?.status === 401 ? "Sign-in failed: wrong user name, password or token." : errorText(err);
      result.append(notice("error", text));
    } finally {
      submit.disabled = false;
    }
  });
  main.replaceChildren(h("h1", null, "Sign in"), form);
  form.querySelector("input")?.focus();
}
