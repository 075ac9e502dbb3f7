//! Small building blocks shared by the pages: buttons that run a server call (disabled while it
//! runs, its error shown next to them), and a copyable text field.

use super::sidebar::initial_of;
use crate::api::ClientError;
use crate::util;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::{GroupId, UserId};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// An async server call started by a button. (`Send + Sync` only because views require it: the
/// browser runs one thread.)
pub type Action =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), ClientError>>>> + Send + Sync>;

/// A reactive part of a view (`{dynamic(move || ...)}`), type-erased: Leptos's code to run a
/// closure in an effect and build or update what it returns then exists once for the whole
/// module, instead of once per closure (each closure is its own type). Only the closure's body
/// and the conversion of its view to an `AnyView` stay per call site.
pub fn dynamic<V, F>(f: F) -> impl IntoView + use<V, F>
where
    V: IntoAny + 'static,
    F: Fn() -> V + Send + Sync + 'static,
{
    erased(Arc::new(move || f().into_any()))
}

/// `<Show when>` through `dynamic`: `children` while `when` is true, nothing otherwise. `when`
/// runs in a memo, so the children are built again only when it flips, as with `<Show>`, whose
/// code would exist once per condition and children type.
pub fn shown<V, W, C>(when: W, children: C) -> impl IntoView + use<V, W, C>
where
    V: IntoAny + 'static,
    W: Fn() -> bool + Send + Sync + 'static,
    C: Fn() -> V + Send + Sync + 'static,
{
    let when = memo(when);
    dynamic(move || when.get().then(|| children().into_any()))
}

/// An effect (`Effect::new`), type-erased like `dynamic`: Leptos's effect code then exists once
/// for all of them, not once per closure.
pub fn effect(f: impl Fn() + 'static) {
    erased_effect(Box::new(f));
}

fn erased_effect(f: Box<dyn Fn()>) {
    Effect::new(move |_| f());
}

/// A memo (`Memo::new`), type-erased like `dynamic`: Leptos's memo code exists once per value
/// type, not once per closure.
pub fn memo<T, F>(f: F) -> Memo<T>
where
    T: PartialEq + Send + Sync + 'static,
    F: Fn() -> T + Send + Sync + 'static,
{
    erased_memo(Arc::new(f))
}

fn erased_memo<T>(f: Arc<dyn Fn() -> T + Send + Sync>) -> Memo<T>
where
    T: PartialEq + Send + Sync + 'static,
{
    Memo::new(move |_| f())
}

/// The one closure type behind every `dynamic`.
fn erased(f: Arc<dyn Fn() -> AnyView + Send + Sync>) -> impl IntoView {
    move || f()
}

/// Wraps a closure returning a future into an `Action`.
pub fn act<F, Fut>(f: F) -> Action
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), ClientError>> + 'static,
{
    Arc::new(move || Box::pin(f()))
}

/// Runs `work` with `busy` set meanwhile; its error (for people) goes to `error`.
fn run_boxed(
    busy: RwSignal<bool>,
    error: RwSignal<Option<String>>,
    work: Pin<Box<dyn Future<Output = Result<(), ClientError>>>>,
) {
    if busy.get_untracked() {
        return;
    }
    busy.set(true);
    error.set(None);
    spawn_local(async move {
        let result = work.await;
        // The view may be gone by now (the item it showed was removed).
        busy.try_set(false);
        if let Err(e) = result {
            error.try_set(Some(e.to_string()));
        }
    });
}

/// A button that runs a server call: disabled while the call runs, the error shown beside it.
/// With `confirm`, the first click only asks (the label becomes `confirm`), the second runs it.
#[component]
pub fn ActionButton(
    label: &'static str,
    action: Action,
    #[prop(optional)] class: &'static str,
    #[prop(optional)] id: Option<&'static str>,
    #[prop(default = None)] confirm: Option<&'static str>,
    #[prop(optional, into)] disabled: Option<Signal<bool>>,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let armed = RwSignal::new(false);
    let on_click = move |_| {
        if confirm.is_some() && !armed.get_untracked() {
            armed.set(true);
            set_timeout(
                move || {
                    armed.try_set(false);
                },
                Duration::from_secs(5),
            );
            return;
        }
        armed.set(false);
        run_boxed(busy, error, action());
    };
    let is_disabled = move || busy.get() || disabled.is_some_and(|d| d.get());
    view! {
        <span class="action">
            <button
                type="button"
                id=id
                class=class
                class:armed=move || armed.get()
                data-busy=move || busy.get().then_some("true")
                disabled=is_disabled
                on:click=on_click
            >
                {dynamic(move || match (busy.get(), armed.get(), confirm) {
                    (true, _, _) => "…",
                    (false, true, Some(ask)) => ask,
                    _ => label,
                })}
            </button>
            {dynamic(move || error.get().map(|e| view! { <span class="action-error" role="alert">{e}</span> }))}
        </span>
    }
}

/// A read-only text (an invite link) with a Copy button.
#[component]
pub fn CopyField(
    #[prop(into)] value: Signal<String>,
    id: &'static str,
    button_id: &'static str,
) -> impl IntoView {
    let copied = RwSignal::new(None::<bool>);
    let copy = move |_| {
        let text = value.get_untracked();
        spawn_local(async move {
            let ok = util::copy_text(&text).await;
            copied.try_set(Some(ok));
        });
    };
    view! {
        <div class="copy-field">
            <input
                id=id
                type="text"
                readonly
                prop:value=move || value.get()
                on:focus=move |ev| {
                    event_target::<web_sys::HtmlInputElement>(&ev).select();
                }
            />
            <button id=button_id type="button" class="secondary" on:click=copy>
                {dynamic(move || match copied.get() {
                    Some(true) => "Copied",
                    Some(false) => "Select and copy",
                    None => "Copy",
                })}
            </button>
        </div>
    }
}

/// An error line under a form.
pub fn form_error(error: RwSignal<Option<String>>) -> impl IntoView {
    dynamic(move || {
        error
            .get()
            .map(|e| view! { <p class="form-error" role="alert">{e}</p> })
    })
}

/// The kind of a form field.
#[derive(Clone, Copy)]
pub enum Input {
    /// A one-line text field: placeholder, longest length in characters.
    Text(&'static str, usize),
    /// A text area: longest length in characters.
    Area(usize),
    /// A date (its value is `YYYY-MM-DD`).
    Date,
    /// A choice among (short label, explanation for people); its value is the index.
    Select(&'static [(&'static str, &'static str)]),
}

/// One field of a `Form`, holding its value as text (a `Select`'s is the chosen index).
pub struct Field {
    pub id: &'static str,
    pub label: &'static str,
    pub input: Input,
    pub value: RwSignal<String>,
}

impl Field {
    pub fn new(
        id: &'static str,
        label: &'static str,
        input: Input,
        value: RwSignal<String>,
    ) -> Self {
        Field {
            id,
            label,
            input,
            value,
        }
    }
}

/// A `Select` field's chosen index.
pub fn chosen(value: RwSignal<String>) -> usize {
    value.with_untracked(|v| v.parse().unwrap_or(0))
}

fn field_view(field: Field) -> impl IntoView {
    use leptos::either::EitherOf4;
    let Field {
        id,
        label,
        input,
        value,
    } = field;
    let on_input = move |ev| value.set(event_target_value(&ev));
    let control = match input {
        Input::Text(placeholder, max) => EitherOf4::A(view! {
            <input
                id=id
                type="text"
                autocomplete="off"
                placeholder=placeholder
                maxlength=max.to_string()
                prop:value=move || value.get()
                on:input=on_input
            />
        }),
        Input::Area(max) => EitherOf4::B(view! {
            <textarea
                id=id
                rows="2"
                maxlength=max.to_string()
                prop:value=move || value.get()
                on:input=on_input
            ></textarea>
        }),
        Input::Date => EitherOf4::C(view! {
            <input id=id type="date" prop:value=move || value.get() on:input=on_input />
        }),
        Input::Select(choices) => EitherOf4::D(view! {
            <select id=id on:change=on_input>
                {choices
                    .iter()
                    .enumerate()
                    .map(|(i, (text, _))| {
                        let index = i.to_string();
                        view! {
                            <option
                                value=index.clone()
                                prop:selected=move || value.with(|v| *v == index)
                            >
                                {*text}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
        }),
    };
    let help = dynamic(move || match input {
        Input::Select(choices) => choices
            .get(value.with(|v| v.parse().unwrap_or(0)))
            .map_or("", |c| c.1),
        _ => "",
    });
    view! {
        <label class="field">
            <span class="field-label">{label}</span>
            {control}
            <span class="field-help">{help}</span>
        </label>
    }
}

/// A form: its fields, a submit button (disabled while the call runs), the call's error or
/// `ok` text under it. `submit` reads the fields' signals and does the call.
#[component]
pub fn Form(
    id: &'static str,
    #[prop(optional)] class: &'static str,
    #[prop(optional)] title: Option<&'static str>,
    fields: Vec<Field>,
    submit_id: &'static str,
    submit_label: &'static str,
    submit: Action,
    /// What to say after a success (set by `submit`).
    ok: RwSignal<Option<String>>,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        ok.set(None);
        run_boxed(busy, error, submit());
    };
    view! {
        <form id=id class=format!("stack {class}") on:submit=on_submit>
            {title.map(|t| view! { <h3>{t}</h3> })}
            {fields.into_iter().map(field_view).collect_view()}
            <button id=submit_id class="primary" type="submit" disabled=move || busy.get()>
                {dynamic(move || if busy.get() { "…" } else { submit_label })}
            </button>
            {dynamic(move || ok.get().map(|t| view! { <p class="form-ok">{t}</p> }))}
            {form_error(error)}
        </form>
    }
}

/// A rule the client checks before sending: `Err` with the message for people.
pub fn invalid<T>(message: &str) -> Result<T, ClientError> {
    Err(ClientError::Invalid(message.to_owned()))
}

/// The index of `value` in `values` (0 when absent).
pub fn index_of<T: PartialEq>(values: &[T], value: &T) -> usize {
    values.iter().position(|v| v == value).unwrap_or(0)
}

/// A button of a list row.
pub struct RowButton {
    pub label: &'static str,
    pub class: &'static str,
    pub confirm: Option<&'static str>,
    pub action: Action,
}

impl RowButton {
    pub fn new(label: &'static str, class: &'static str, action: Action) -> Self {
        RowButton {
            label,
            class,
            confirm: None,
            action,
        }
    }

    /// Asks before running (the first click only arms the button).
    pub fn confirm(mut self, ask: &'static str) -> Self {
        self.confirm = Some(ask);
        self
    }
}

/// Something to do when a row's main part is clicked.
pub type OnOpen = Arc<dyn Fn() + Send + Sync>;

/// One row of a list (a friend, a request, a group, a member...). Every list renders this one
/// kind of row, so the code to render rows exists once.
#[derive(Default)]
pub struct Row {
    /// Its kind, also its CSS class: `friend`, `friend-request`, `group-item`, `member`...
    pub kind: &'static str,
    pub id: Option<i64>,
    pub uid: Option<UserId>,
    pub gid: Option<GroupId>,
    pub role: Option<&'static str>,
    pub title: String,
    pub sub: String,
    /// Online status, when known.
    pub presence: Option<bool>,
    /// Shown highlighted (the selected group).
    pub active: bool,
    pub open: Option<OnOpen>,
    /// A text field for an answer (to an invitation).
    pub answer: Option<RwSignal<String>>,
    pub buttons: Vec<RowButton>,
}

/// Renders a `Row`.
pub fn row(row: Row) -> impl IntoView {
    let initial = initial_of(&row.title);
    let open = row.open;
    let clickable = open.is_some();
    let click = move || {
        if let Some(open) = &open {
            open();
        }
    };
    let click2 = click.clone();
    view! {
        <li
            class=format!("row {}", row.kind)
            class:active=row.active
            data-id=row.id.map(|i| i.to_string())
            data-uid=row.uid.map(|u| u.0.to_string())
            data-gid=row.gid.map(|g| g.0.to_string())
            data-role=row.role
        >
            <div
                class="row-open"
                class:clickable=clickable
                role=clickable.then_some("button")
                tabindex=clickable.then_some("0")
                on:click=move |_| click()
                on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                    if ev.key() == "Enter" {
                        click2();
                    }
                }
            >
                <span class="avatar small" aria-hidden="true">
                    {initial}
                </span>
                <span class="row-main">
                    <span class="row-title">{row.title}</span>
                    <span class="row-sub">
                        {row.sub}
                        {row
                            .presence
                            .map(|on| {
                                view! {
                                    <span class="presence" data-online=on.to_string()>
                                        {if on { " · online" } else { " · offline" }}
                                    </span>
                                }
                            })}
                    </span>
                </span>
            </div>
            {row
                .answer
                .map(|text| {
                    view! {
                        <input
                            class="row-answer"
                            type="text"
                            placeholder="An answer (optional)"
                            prop:value=move || text.get()
                            on:input=move |ev| text.set(event_target_value(&ev))
                        />
                    }
                })}
            <div class="row-actions">
                {row
                    .buttons
                    .into_iter()
                    .map(|b| {
                        view! {
                            <ActionButton
                                label=b.label
                                class=b.class
                                confirm=b.confirm
                                action=b.action
                            />
                        }
                    })
                    .collect_view()}
            </div>
        </li>
    }
}
