//! Tools that act on elements beyond a click: hover, drag, drop, select
//! options and fill whole forms.

use hype_cdp::Button;
use serde_json::{json, Value};

use crate::args::*;
use crate::backend::Backend;
use crate::browser::Acted;
use crate::error::ToolError;
use crate::server::{HypeMcp, Output};

/// Selects the options of `this` (a `<select>`) whose value or text is in
/// the first argument; answers the labels it could not find.
const SELECT: &str = r#"function(el, wanted) {
  if (!(this instanceof HTMLSelectElement)) return {error: 'not a <select> element (a ' + this.tagName.toLowerCase() + ')'};
  const opts = Array.from(this.options);
  const missing = wanted.filter(w => !opts.some(o => o.value === w || o.label === w || o.text.trim() === w));
  if (missing.length) return {missing, options: opts.map(o => o.label)};
  if (!this.multiple && wanted.length > 1) return {error: 'this <select> takes one option'};
  for (const o of opts) o.selected = wanted.some(w => o.value === w || o.label === w || o.text.trim() === w);
  this.dispatchEvent(new Event('input', {bubbles: true}));
  this.dispatchEvent(new Event('change', {bubbles: true}));
  return {selected: opts.filter(o => o.selected).map(o => o.label)};
}"#;

/// Facts about a form field that decide how to fill it.
const FIELD: &str = r#"function() {
  return {tag: this.tagName.toLowerCase(), type: (this.type || '').toLowerCase(),
    checked: !!this.checked, editable: this.isContentEditable};
}"#;

/// Sets a range input's value as a user dragging it would.
const SLIDE: &str = r#"function(el, v) {
  this.value = v;
  this.dispatchEvent(new Event('input', {bubbles: true}));
  this.dispatchEvent(new Event('change', {bubbles: true}));
  return this.value;
}"#;

/// Selects the text of an input so that typing replaces it.
const SELECT_TEXT: &str = r#"function() {
  this.focus();
  if (typeof this.select === 'function') this.select();
  else { const r = document.createRange(); r.selectNodeContents(this); const s = getSelection(); s.removeAllRanges(); s.addRange(r); }
}"#;

fn select_outcome(v: &Value, what: &str) -> Result<String, ToolError> {
    if let Some(e) = v["error"].as_str() {
        return Err(ToolError::Invalid(format!(
            "{what} is {e}; pick a combobox from browser_snapshot"
        )));
    }
    if let Some(m) = v["missing"].as_array() {
        return Err(ToolError::Invalid(format!(
            "{what} has no option {}; its options are {}",
            serde_json::to_string(m).unwrap_or_default(),
            serde_json::to_string(&v["options"]).unwrap_or_default()
        )));
    }
    Ok(serde_json::to_string(&v["selected"]).unwrap_or_default())
}

impl<B: Backend> HypeMcp<B> {
    pub(crate) async fn hover(&self, a: Hover) -> Output {
        let mut t = self.tab(a.sandbox).await?;
        let n = t.resolve(&a.target).await?;
        let acted = t
            .act(move |p| {
                Box::pin(async move {
                    let (x, y) = p.centre(n).await?;
                    p.mouse_move(x, y).await
                })
            })
            .await?;
        let what = a.element.unwrap_or(a.target);
        t.report(format!("Hovered over {what}."), acted).await
    }

    pub(crate) async fn drag(&self, a: Drag) -> Output {
        let mut t = self.tab(a.sandbox).await?;
        let from = t.resolve(&a.start_target).await?;
        let to = t.resolve(&a.end_target).await?;
        let acted = t
            .act(move |p| {
                Box::pin(async move {
                    let (x0, y0) = p.centre(from).await?;
                    // Intercepted, an HTML5 drag comes back as data to drop
                    // by hand; plain mouse drags need nothing more.
                    p.call("Input.setInterceptDrags", json!({"enabled": true}))
                        .await?;
                    p.mouse_move(x0, y0).await?;
                    p.mouse_button(x0, y0, Button::Left, true, 1, 0).await?;
                    let (x1, y1) = p.centre(to).await?;
                    for i in 1..=5 {
                        let f = f64::from(i) / 5.0;
                        p.mouse_move(x0 + (x1 - x0) * f, y0 + (y1 - y0) * f).await?;
                    }
                    p.mouse_button(x1, y1, Button::Left, false, 1, 0).await?;
                    p.call("Input.setInterceptDrags", json!({"enabled": false}))
                        .await?;
                    Ok(())
                })
            })
            .await?;
        let what = format!(
            "Dragged {} to {}.",
            a.start_element.unwrap_or(a.start_target),
            a.end_element.unwrap_or(a.end_target)
        );
        t.report(what, acted).await
    }

    pub(crate) async fn drop_on(&self, a: Drop) -> Output {
        let paths = a.paths.clone().unwrap_or_default();
        let data = a.data.clone().unwrap_or_default();
        if paths.is_empty() && data.is_empty() {
            return Err(ToolError::Invalid(
                "give `paths` (files in the sandbox) or `data` (MIME type to value), or both"
                    .into(),
            ));
        }
        let mut t = self.tab(a.sandbox).await?;
        let n = t.resolve(&a.target).await?;
        let items: Vec<Value> = data
            .iter()
            .map(|(mime, v)| json!({"mimeType": mime, "data": v}))
            .collect();
        let drag = json!({"items": items, "files": paths, "dragOperationsMask": 1});
        let acted = t
            .act(move |p| {
                Box::pin(async move {
                    let (x, y) = p.centre(n).await?;
                    for kind in ["dragEnter", "dragOver", "drop"] {
                        p.call(
                            "Input.dispatchDragEvent",
                            json!({"type": kind, "x": x, "y": y, "data": drag}),
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .await?;
        let what = a.element.unwrap_or(a.target);
        t.report(format!("Dropped onto {what}."), acted).await
    }

    pub(crate) async fn select_option(&self, a: SelectOption) -> Output {
        let mut t = self.tab(a.sandbox).await?;
        let n = t.resolve(&a.target).await?;
        let values = json!(a.values);
        let v = t
            .run(move |p| Box::pin(async move { p.call_on(n, SELECT, &[values]).await }))
            .await?;
        let what = a.element.unwrap_or(a.target);
        let selected = select_outcome(&v, &what)?;
        t.report(format!("Selected {selected} in {what}."), Acted::Done(()))
            .await
    }

    pub(crate) async fn fill_form(&self, a: FillForm) -> Output {
        if a.fields.is_empty() {
            return Err(ToolError::Invalid("`fields` is empty".into()));
        }
        let mut t = self.tab(a.sandbox).await?;
        let mut done = vec![];
        for f in a.fields {
            let n = t.resolve(&f.target).await?;
            let facts = t
                .run(move |p| Box::pin(async move { p.call_on(n, FIELD, &[]).await }))
                .await?;
            let value = f.value.clone();
            let acted = match f.kind {
                FieldType::Textbox => {
                    t.act(move |p| {
                        Box::pin(async move {
                            p.call_on(n, SELECT_TEXT, &[]).await?;
                            if value.is_empty() {
                                p.press_key("Delete").await
                            } else {
                                p.call("Input.insertText", json!({"text": value}))
                                    .await
                                    .map(drop)
                            }
                        })
                    })
                    .await?
                }
                FieldType::Checkbox | FieldType::Radio => {
                    let want = match f.value.trim() {
                        "true" | "on" | "checked" => true,
                        "false" | "off" | "unchecked" => false,
                        v => {
                            return Err(ToolError::Invalid(format!(
                                "field '{}': a {} takes \"true\" or \"false\", not \"{v}\"",
                                f.name,
                                if f.kind == FieldType::Radio {
                                    "radio"
                                } else {
                                    "checkbox"
                                }
                            )))
                        }
                    };
                    if facts["checked"] == want {
                        Acted::Done(())
                    } else if !want && f.kind == FieldType::Radio {
                        return Err(ToolError::Invalid(format!(
                            "field '{}': a radio button is cleared by checking another of its group",
                            f.name
                        )));
                    } else {
                        t.act(move |p| Box::pin(p.click(n, Button::Left, false)))
                            .await?
                    }
                }
                FieldType::Combobox if facts["tag"] == "select" => {
                    let v = t
                        .run(move |p| {
                            Box::pin(async move { p.call_on(n, SELECT, &[json!([value])]).await })
                        })
                        .await?;
                    select_outcome(&v, &format!("field '{}'", f.name))?;
                    Acted::Done(())
                }
                FieldType::Combobox => {
                    // An editable combobox: type the option's text.
                    t.act(move |p| {
                        Box::pin(async move {
                            p.call_on(n, SELECT_TEXT, &[]).await?;
                            p.call("Input.insertText", json!({"text": value}))
                                .await
                                .map(drop)
                        })
                    })
                    .await?
                }
                FieldType::Slider => {
                    t.act(move |p| {
                        Box::pin(
                            async move { p.call_on(n, SLIDE, &[json!(value)]).await.map(drop) },
                        )
                    })
                    .await?
                }
            };
            done.push(f.name.clone());
            if let Acted::Modal(m) = acted {
                return t
                    .report(
                        format!("Filled {} before a dialog opened.", done.join(", ")),
                        Acted::<()>::Modal(m),
                    )
                    .await;
            }
        }
        t.report(format!("Filled {}.", done.join(", ")), Acted::Done(()))
            .await
    }
}
