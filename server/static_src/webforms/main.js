// The draft preview page's script: ODK Web Forms on a form fetched from this server (docs/forms.md §11).
//
// The page (server/templates/web/form_try.html) gives, on the element it mounts on:
//   data-form   the URL of the XForm XML (a draft's or a published version's),
//   data-media  the URL its media files are under (`<data-media>/<file name>`, the entity list included),
//   data-sent   the words shown when the designer presses Send.
// Every fetch goes to these URLs of our own origin; nothing is ever submitted.
import { createApp, h } from "vue";
import { OdkWebForm, webFormsPlugin } from "@getodk/web-forms";

const mount = document.querySelector("[data-webforms]");

// Web Forms asks for `jr://images/house.png`, `jr://file-csv/villages.csv`, `jr://file/households.csv`:
// the file name is the last segment, and our media URL serves it.
function fetchFormAttachment(resource) {
  const url = typeof resource === "string" ? resource : resource.href;
  const name = decodeURIComponent(url.split("/").pop());
  return fetch(`${mount.dataset.media}/${encodeURIComponent(name)}`, { credentials: "same-origin" });
}

// Send validates the form (Web Forms does that before emitting) and then stops here: a preview creates
// no submission. The callback tells Web Forms the "submission" is over, so the designer can go on.
function onSubmit(_payload, callback) {
  const notice = document.querySelector("[data-preview-sent]");
  if (notice) {
    notice.hidden = false;
  }
  if (typeof callback === "function") {
    callback({ status: "success" });
  }
}

async function start() {
  const response = await fetch(mount.dataset.form, { credentials: "same-origin" });
  if (!response.ok) {
    throw new Error(`The form could not be loaded (${response.status}).`);
  }
  const formXml = await response.text();
  const app = createApp({
    render: () => h(OdkWebForm, {
      formXml,
      fetchFormAttachment,
      missingResourceBehavior: "BLANK",
      onSubmit,
    }),
  });
  app.use(webFormsPlugin);
  app.mount(mount);
}

if (mount) {
  start().catch((error) => {
    mount.textContent = String(error.message || error);
    mount.dataset.failed = "1";
  });
}
