// Sign-in: exchanges the API key for the session cookie, then goes where the user was going.
const form = document.getElementById("sign-in");
const error = document.getElementById("sign-in-error");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const response = await fetch("/console/sign-in", {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrf-token": form.dataset.token },
      body: JSON.stringify({ api_key: form.elements.api_key.value }),
      credentials: "same-origin",
    });
    if (response.status === 204) {
      location.assign(form.dataset.next || "/fleet");
      return;
    }
    const body = await response.json().catch(() => ({}));
    error.textContent = body?.error?.message || `Sign-in failed (${response.status})`;
    error.hidden = false;
    form.elements.api_key.focus();
  } finally {
    button.disabled = false;
  }
});
