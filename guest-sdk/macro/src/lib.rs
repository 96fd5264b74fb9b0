//! The `#[transform]` attribute and `#[derive(Features)]` of `skewless-guest`.
//!
//! Both check the user's types syntactically first, so an unsupported
//! signature gets a compile error on the offending tokens that says what to
//! write instead, rather than a trait-bound error deep in generated code.
//! Expansions refer to the SDK by absolute `::skewless_guest::...` paths.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{
    Data, DeriveInput, Error, Fields, FnArg, GenericArgument, ItemFn, LitStr, Pat, PathArguments,
    ReturnType, Type, parse_macro_input,
};

/// Turns a row function into a skewless transform component.
///
/// See the `skewless-guest` crate docs for the supported types.
#[proc_macro_attribute]
pub fn transform(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut args = TransformArgs::default();
    let parser = syn::meta::parser(|meta| args.parse(meta));
    parse_macro_input!(attr with parser);
    let function = parse_macro_input!(item as ItemFn);
    match expand_transform(args, &function) {
        Ok(tokens) => tokens.into(),
        Err(error) => {
            let error = error.to_compile_error();
            quote!(#function #error).into()
        }
    }
}

/// Declares a struct as a transform's output row: one field per column.
///
/// See the `skewless-guest` crate docs for the supported field types.
#[proc_macro_derive(Features)]
pub fn derive_features(item: TokenStream) -> TokenStream {
    let input = parse_macro_input!(item as DeriveInput);
    match expand_features(&input) {
        Ok(tokens) => tokens.into(),
        Err(error) => {
            // The struct is still declared a Features type, so a transform
            // returning it does not add "add the derive" errors to the
            // real one.
            let error = error.to_compile_error();
            let stand_in = features_stand_in(&input);
            quote!(#error #stand_in).into()
        }
    }
}

/// An implementation of `Features` that only satisfies the compiler, for a
/// struct whose derive failed (and was reported); none when it is generic.
fn features_stand_in(input: &DeriveInput) -> TokenStream2 {
    if !input.generics.params.is_empty() {
        return TokenStream2::new();
    }
    let ident = &input.ident;
    let vis = &input.vis;
    let columns = format_ident!("__SkewlessColumnsOf{}", ident);
    quote! {
        const _: () = {
            #[doc(hidden)]
            #[allow(missing_debug_implementations, non_camel_case_types)]
            #vis struct #columns;

            impl ::skewless_guest::Features for #ident {
                const FIELDS: &'static [::skewless_guest::Field] = &[];
                type Columns = #columns;
            }

            impl ::skewless_guest::__private::FeatureColumns<#ident> for #columns {
                fn with_capacity(_: usize) -> Self {
                    #columns
                }
                unsafe fn push(&mut self, _: #ident) {}
                fn finish(self, _: usize) -> ::skewless_guest::__private::Batch {
                    ::core::unreachable!("the derive of Features failed")
                }
            }
        };
    }
}

/// Collects errors so that one compile reports every bad argument or
/// field, not the first of them.
#[derive(Default)]
struct Errors(Option<Error>);

impl Errors {
    /// The value of `result`, or `None` after noting its error.
    fn take<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                match &mut self.0 {
                    Some(errors) => errors.combine(error),
                    None => self.0 = Some(error),
                }
                None
            }
        }
    }

    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

#[derive(Default)]
struct TransformArgs {
    name: Option<LitStr>,
    version: Option<LitStr>,
    description: Option<LitStr>,
}

impl TransformArgs {
    fn parse(&mut self, meta: syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
        let slot = if meta.path.is_ident("name") {
            &mut self.name
        } else if meta.path.is_ident("version") {
            &mut self.version
        } else if meta.path.is_ident("description") {
            &mut self.description
        } else {
            return Err(meta.error(
                "unknown argument: `#[transform]` takes `name = \"...\"`, `version = \"...\"` \
                 and optionally `description = \"...\"`",
            ));
        };
        if slot.is_some() {
            return Err(meta.error("this argument is given twice"));
        }
        *slot = Some(meta.value()?.parse()?);
        Ok(())
    }
}

/// A column's Rust type, checked to be one the SDK reads or writes; its
/// tokens are the user's own.
struct ColumnType {
    tokens: TokenStream2,
}

impl ColumnType {
    fn tokens(&self) -> TokenStream2 {
        self.tokens.clone()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Position {
    Argument,
    Field,
}

const ARGUMENT_TYPES: &str = "bool, i32, i64, f32, f64, &str, String, Timestamp, Date, \
     Decimal<P, S>, &[u8], Vec<u8>, a list (`Vec<T>`, `&[f64]`, `Vec<Option<T>>`), an \
     embedding (`[f32; N]`, `&[f32; N]`), or an Option of one of them";
const FIELD_TYPES: &str = "bool, i32, i64, f32, f64, String, Timestamp, Date, Decimal<P, S>, \
     Vec<u8>, a list (`Vec<T>`, `Vec<Option<T>>`), an embedding (`[f32; N]`), or an Option of \
     one of them";

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last(),
        _ => None,
    }
}

fn column_type(ty: &Type, position: Position) -> syn::Result<ColumnType> {
    if let Some(segment) = last_segment(ty)
        && segment.ident == "Option"
    {
        let inner = single_generic(segment)
            .ok_or_else(|| Error::new_spanned(ty, "expected `Option<T>` with one type argument"))?;
        if last_segment(inner).is_some_and(|s| s.ident == "Option") {
            return Err(Error::new_spanned(
                ty,
                "a column is nullable or not: use one `Option`, not `Option<Option<_>>`",
            ));
        }
        value_type(inner, position)?;
    } else {
        value_type(ty, position)?;
    }
    Ok(ColumnType {
        tokens: quote!(#ty),
    })
}

fn single_generic(segment: &syn::PathSegment) -> Option<&Type> {
    match &segment.arguments {
        PathArguments::AngleBracketed(args) if args.args.len() == 1 => match &args.args[0] {
            GenericArgument::Type(ty) => Some(ty),
            _ => None,
        },
        _ => None,
    }
}

/// What a non-`Option` column type may be.
fn value_type(ty: &Type, position: Position) -> syn::Result<()> {
    let allowed = match position {
        Position::Argument => ARGUMENT_TYPES,
        Position::Field => FIELD_TYPES,
    };
    let unsupported = || {
        Error::new_spanned(
            ty,
            format!("unsupported column type: a column is {allowed}"),
        )
    };
    match ty {
        Type::Reference(reference) => {
            if reference.mutability.is_some() {
                return Err(unsupported());
            }
            if position == Position::Field {
                let owned = if last_segment(&reference.elem).is_some_and(|s| s.ident == "str") {
                    "`String` instead of `&str`"
                } else {
                    "an owned type (`String`, `Vec<T>`, `[f32; N]`)"
                };
                return Err(Error::new_spanned(
                    ty,
                    format!("an output field owns its value: write {owned}"),
                ));
            }
            match &*reference.elem {
                elem if last_segment(elem).is_some_and(|s| s.ident == "str") => Ok(()),
                Type::Slice(slice) => match last_segment(&slice.elem) {
                    Some(s)
                        if ["u8", "i32", "i64", "f32", "f64"]
                            .contains(&s.ident.to_string().as_str()) =>
                    {
                        Ok(())
                    }
                    _ => Err(Error::new_spanned(
                        ty,
                        "a borrowed list is `&[u8]` (bytes), `&[i32]`, `&[i64]`, `&[f32]` or \
                         `&[f64]`; for other elements take a `Vec<T>`",
                    )),
                },
                Type::Array(array) => embedding(array, ty),
                _ => Err(unsupported()),
            }
        }
        Type::Array(array) => embedding(array, ty),
        _ => {
            let Some(segment) = last_segment(ty) else {
                return Err(unsupported());
            };
            let name = segment.ident.to_string();
            match name.as_str() {
                "bool" | "i32" | "i64" | "f32" | "f64" | "String" | "Timestamp" | "Date" => {
                    if !matches!(segment.arguments, PathArguments::None) {
                        return Err(unsupported());
                    }
                    Ok(())
                }
                "Decimal" => match &segment.arguments {
                    PathArguments::AngleBracketed(args) if args.args.len() == 2 => Ok(()),
                    _ => Err(Error::new_spanned(
                        ty,
                        "a decimal column is `Decimal<P, S>`: its precision (1 to 38 digits) \
                         and scale (digits after the point), e.g. `Decimal<18, 2>`",
                    )),
                },
                "Vec" => {
                    let element = single_generic(segment).ok_or_else(unsupported)?;
                    if last_segment(element).is_some_and(|s| s.ident == "u8") {
                        return Ok(());
                    }
                    let element = match last_segment(element) {
                        Some(s) if s.ident == "Option" => {
                            single_generic(s).ok_or_else(unsupported)?
                        }
                        _ => element,
                    };
                    list_element(element, position, ty)
                }
                "i8" | "i16" | "u8" | "u16" => Err(Error::new_spanned(
                    ty,
                    format!(
                        "`{name}` is not a column type: use `i32` (an int32 column) and convert"
                    ),
                )),
                "u32" | "u64" | "usize" | "isize" | "i128" | "u128" => Err(Error::new_spanned(
                    ty,
                    format!(
                        "`{name}` is not a column type: use `i64` (an int64 column) and convert"
                    ),
                )),
                "str" => Err(Error::new_spanned(
                    ty,
                    "a text column is borrowed: write `&str` (or `String`)",
                )),
                // A type alias (`type Money = Decimal<18, 2>`) or another
                // named type: the SDK's traits decide, and say what a column
                // is when they do not hold.
                _ if name.starts_with(char::is_uppercase) => Ok(()),
                _ => Err(Error::new_spanned(
                    ty,
                    format!("unsupported column type `{name}`: a column is {allowed}"),
                )),
            }
        }
    }
}

/// `[f32; N]` or `[f64; N]`.
fn embedding(array: &syn::TypeArray, ty: &Type) -> syn::Result<()> {
    match last_segment(&array.elem) {
        Some(s) if s.ident == "f32" || s.ident == "f64" => Ok(()),
        _ => Err(Error::new_spanned(
            ty,
            "a fixed-size list (an embedding) is `[f32; N]` or `[f64; N]`",
        )),
    }
}

/// What a list's element may be.
fn list_element(element: &Type, position: Position, ty: &Type) -> syn::Result<()> {
    let plain = match element {
        Type::Reference(reference) if position == Position::Argument => {
            last_segment(&reference.elem).is_some_and(|s| s.ident == "str")
                || matches!(&*reference.elem, Type::Slice(slice)
                    if last_segment(&slice.elem).is_some_and(|s| s.ident == "u8"))
        }
        _ => match last_segment(element) {
            Some(s) => match s.ident.to_string().as_str() {
                "bool" | "i32" | "i64" | "f32" | "f64" | "String" | "Timestamp" | "Date" => {
                    matches!(s.arguments, PathArguments::None)
                }
                "Decimal" => true,
                "Vec" => single_generic(s)
                    .is_some_and(|e| last_segment(e).is_some_and(|e| e.ident == "u8")),
                _ => false,
            },
            None => false,
        },
    };
    if plain {
        Ok(())
    } else {
        Err(Error::new_spanned(
            ty,
            "a list's elements are bool, i32, i64, f32, f64, String (or &str), Timestamp, \
             Date, Decimal<P, S> or Vec<u8> (bytes), or an Option of one",
        ))
    }
}

/// The output type of a transform function, and whether it is a `Result`.
struct ReturnShape<'a> {
    features: &'a Type,
    fallible: bool,
}

fn return_shape(signature: &syn::Signature) -> syn::Result<ReturnShape<'_>> {
    let ty = match &signature.output {
        ReturnType::Type(_, ty) => &**ty,
        ReturnType::Default => {
            return Err(Error::new_spanned(
                signature,
                "a transform returns its output row: add `-> MyFeatures` where \
                 `#[derive(skewless_guest::Features)] struct MyFeatures { ... }`",
            ));
        }
    };
    if let Some(segment) = last_segment(ty)
        && segment.ident == "Result"
    {
        let args = match &segment.arguments {
            PathArguments::AngleBracketed(args) => args,
            _ => {
                return Err(Error::new_spanned(
                    ty,
                    "write `Result<MyFeatures, E>` with an error type `E: Display`",
                ));
            }
        };
        let features = match args.args.first() {
            Some(GenericArgument::Type(features)) if args.args.len() == 2 => features,
            _ => {
                return Err(Error::new_spanned(
                    ty,
                    "write `Result<MyFeatures, E>` with an error type `E: Display` \
                     (a `Result` alias with one argument is not recognized)",
                ));
            }
        };
        check_features_type(features)?;
        return Ok(ReturnShape {
            features,
            fallible: true,
        });
    }
    check_features_type(ty)?;
    Ok(ReturnShape {
        features: ty,
        fallible: false,
    })
}

fn check_features_type(ty: &Type) -> syn::Result<()> {
    let scalar = matches!(ty, Type::Reference(_))
        || last_segment(ty).is_some_and(|s| {
            matches!(
                s.ident.to_string().as_str(),
                "bool"
                    | "i32"
                    | "i64"
                    | "f32"
                    | "f64"
                    | "String"
                    | "Timestamp"
                    | "Date"
                    | "Decimal"
                    | "Vec"
                    | "Option"
            )
        });
    if scalar || matches!(ty, Type::Tuple(_)) {
        return Err(Error::new_spanned(
            ty,
            "a transform returns a struct of named output columns: write \
             `#[derive(skewless_guest::Features)] struct MyFeatures { value: f64 }` \
             and return `MyFeatures`",
        ));
    }
    if !matches!(ty, Type::Path(_)) {
        return Err(Error::new_spanned(
            ty,
            "a transform returns a struct deriving `skewless_guest::Features`",
        ));
    }
    Ok(())
}

/// The column name of a Rust identifier (`r#type` is the column `type`).
fn column_name(ident: &syn::Ident) -> String {
    let name = ident.to_string();
    name.strip_prefix("r#").map(str::to_owned).unwrap_or(name)
}

fn doc_comment(attrs: &[syn::Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        if let syn::Meta::NameValue(nv) = &attr.meta
            && let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(text),
                ..
            }) = &nv.value
        {
            lines.push(text.value().trim().to_string());
        }
    }
    // Paragraphs are separated by blank lines; lines within one are joined.
    let mut description = String::new();
    for line in lines {
        if line.is_empty() {
            if !description.is_empty() && !description.ends_with("\n\n") {
                description.push_str("\n\n");
            }
        } else {
            if !description.is_empty() && !description.ends_with('\n') {
                description.push(' ');
            }
            description.push_str(&line);
        }
    }
    description.trim_end().to_string()
}

fn check_name(name: &LitStr) -> syn::Result<()> {
    let value = name.value();
    let valid = !value.is_empty()
        && value.len() <= 64
        && value.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(Error::new(
            name.span(),
            "a transform name is 1 to 64 lowercase letters, digits, `-` or `_`, \
             starting with a letter or digit, e.g. `fraud-features`",
        ))
    }
}

fn expand_transform(args: TransformArgs, function: &ItemFn) -> syn::Result<TokenStream2> {
    let signature = &function.sig;
    let name = args.name.ok_or_else(|| {
        Error::new(
            Span::call_site(),
            "missing transform name: write `#[transform(name = \"my-features\", version = \"1.0.0\")]`",
        )
    })?;
    check_name(&name)?;
    let version = args.version.ok_or_else(|| {
        Error::new(
            Span::call_site(),
            "missing transform version: write `#[transform(name = \"...\", version = \"1.0.0\")]`",
        )
    })?;
    if version.value().trim().is_empty() {
        return Err(Error::new(version.span(), "the version must not be empty"));
    }
    let description = match args.description {
        Some(description) => description.value(),
        None => doc_comment(&function.attrs),
    };

    if let Some(asyncness) = signature.asyncness {
        return Err(Error::new(
            asyncness.span(),
            "a transform is a plain synchronous function: remove `async`",
        ));
    }
    if let Some(param) = signature.generics.type_params().next() {
        return Err(Error::new(
            param.span(),
            "a transform cannot be generic: its column types must be concrete",
        ));
    }
    if let Some(param) = signature.generics.const_params().next() {
        return Err(Error::new(
            param.span(),
            "a transform cannot take const generics",
        ));
    }
    if let Some(variadic) = &signature.variadic {
        return Err(Error::new(
            variadic.span(),
            "a transform cannot be variadic",
        ));
    }
    if signature.inputs.is_empty() {
        return Err(Error::new(
            signature.paren_token.span.join(),
            "a transform needs at least one input column: add an argument such as `amount: f64`",
        ));
    }

    let mut errors = Errors::default();
    let arguments = arguments(signature, true, &mut errors);
    let shape = errors.take(return_shape(signature));
    errors.finish()?;
    let shape = shape.expect("no error");
    let features = shape.features;
    let name_value = name.value();
    let version_value = version.value();
    let features_span = features.span();
    let assert_features = quote_spanned! {features_span=>
        const _: fn() = || {
            fn must_derive_skewless_guest_features<T: ::skewless_guest::Features>() {}
            must_derive_skewless_guest_features::<#features>();
        };
    };
    let groups: Vec<&Type> = arguments
        .iter()
        .filter_map(|a| match a {
            Argument::Group { ty, .. } => Some(*ty),
            Argument::Column { .. } => None,
        })
        .collect();
    if groups.len() > 1 {
        return Err(Error::new_spanned(
            groups[1],
            "a transform reads one struct of aggregates: put every aggregate in it",
        ));
    }
    let input_fields = arguments.iter().map(|argument| match argument {
        Argument::Column { name, ty } => {
            let ty = ty.tokens();
            quote!(&[::skewless_guest::__private::input_field::<#ty>(#name)])
        }
        Argument::Group { ty, .. } => {
            quote!(<#ty as ::skewless_guest::Aggregates>::FIELDS)
        }
    });
    let aggregation = match groups.first() {
        Some(group) => quote! {
            ::core::option::Option::Some(::skewless_guest::__private::aggregation::<#group>())
        },
        None => quote!(::core::option::Option::None),
    };
    let events = match groups.first() {
        Some(group) => quote! {
            <<#group as ::skewless_guest::Aggregates>::Events as
                ::skewless_guest::__private::EventSource>::run(__skewless_input)
        },
        None => quote! {{
            let _ = __skewless_input;
            ::skewless_guest::__private::no_events()
        }},
    };
    let body = row_loop(&signature.ident, &arguments, features, shape.fallible);
    let function = strip_argument_attributes(function);

    // A crate is one component with one transform. A second `#[transform]`
    // in the same module redefines this name, an error that says why on
    // every target (the component's exports only clash when building for
    // wasm, with a message about `cabi_post_describe`).
    let one_per_crate = quote_spanned! {Span::call_site()=>
        #[doc(hidden)]
        #[allow(non_upper_case_globals, dead_code)]
        const __SKEWLESS_ONE_TRANSFORM_PER_CRATE: () = ();
    };

    Ok(quote! {
        #function

        #one_per_crate

        #assert_features

        const _: () = {
            struct __SkewlessTransform;

            impl ::skewless_guest::__private::Guest for __SkewlessTransform {
                fn describe() -> ::skewless_guest::__private::TransformInfo {
                    ::skewless_guest::__private::describe::<#features>(
                        #name_value,
                        #version_value,
                        #description,
                        &[#(#input_fields),*],
                        #aggregation,
                    )
                }

                fn transform(
                    __skewless_input: ::skewless_guest::__private::Batch,
                ) -> ::core::result::Result<
                    ::skewless_guest::__private::Batch,
                    ::skewless_guest::__private::TransformError,
                > {
                    #body
                }

                fn events(
                    __skewless_input: ::skewless_guest::__private::Batch,
                ) -> ::core::result::Result<
                    ::skewless_guest::__private::Batch,
                    ::skewless_guest::__private::TransformError,
                > {
                    #events
                }
            }

            // Natively nothing calls the glue; naming it here keeps the
            // user's function from being reported as dead code.
            const _: fn(
                ::skewless_guest::__private::Batch,
            ) -> ::core::result::Result<
                ::skewless_guest::__private::Batch,
                ::skewless_guest::__private::TransformError,
            > = <__SkewlessTransform as ::skewless_guest::__private::Guest>::transform;

            // Only a component exports the world: natively, several
            // transforms can be linked into one program (benchmarks).
            #[cfg(target_arch = "wasm32")]
            ::skewless_guest::__private::export!(__SkewlessTransform);
        };
    })
}

/// An argument of a row function: one input column, or (marked
/// `#[aggregates]`) a struct of aggregates, several columns.
enum Argument<'a> {
    Column { name: String, ty: ColumnType },
    Group { ty: &'a Type },
}

/// The arguments of `signature`, each checked; `groups` says whether an
/// `#[aggregates]` struct may be one.
fn arguments<'a>(
    signature: &'a syn::Signature,
    groups: bool,
    errors: &mut Errors,
) -> Vec<Argument<'a>> {
    let mut arguments = Vec::new();
    for input in &signature.inputs {
        let typed = match input {
            FnArg::Receiver(receiver) => {
                errors.take::<()>(Err(Error::new(
                    receiver.span(),
                    "a row function is a free function: remove `self`",
                )));
                continue;
            }
            FnArg::Typed(typed) => typed,
        };
        let ident = errors.take(match &*typed.pat {
            Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => Ok(&pat.ident),
            other => Err(Error::new(
                other.span(),
                "name each argument after its input column, e.g. `amount: f64` \
                 (patterns are not supported)",
            )),
        });
        let group = typed.attrs.iter().find(|a| a.path().is_ident("aggregates"));
        if let Some(group) = group {
            if !groups {
                errors.take::<()>(Err(Error::new_spanned(
                    group,
                    "an events function reads event columns, not aggregates",
                )));
                continue;
            }
            if ident.is_some() {
                arguments.push(Argument::Group { ty: &typed.ty });
            }
            continue;
        }
        let ty = errors.take(column_type(&typed.ty, Position::Argument));
        if let (Some(ident), Some(ty)) = (ident, ty) {
            arguments.push(Argument::Column {
                name: column_name(ident),
                ty,
            });
        }
    }
    arguments
}

/// The function as written, without the `#[aggregates]` markers on its
/// arguments (which only the macro reads).
fn strip_argument_attributes(function: &ItemFn) -> ItemFn {
    let mut function = function.clone();
    for input in &mut function.sig.inputs {
        if let FnArg::Typed(typed) = input {
            typed.attrs.retain(|a| !a.path().is_ident("aggregates"));
        }
    }
    function
}

/// The body of an export that runs `function` on every row of
/// `__skewless_input`: its columns checked once, then the rows.
fn row_loop(
    function: &syn::Ident,
    arguments: &[Argument<'_>],
    features: &Type,
    fallible: bool,
) -> TokenStream2 {
    let widths = arguments.iter().map(|argument| match argument {
        Argument::Column { .. } => quote!(1_usize),
        Argument::Group { ty } => quote!(<#ty as ::skewless_guest::Aggregates>::FIELDS.len()),
    });
    let readers = arguments.iter().enumerate().map(|(i, argument)| {
        let reader = format_ident!("__skewless_column_{}", i);
        match argument {
            Argument::Column { name, ty } => {
                let ty = ty.tokens();
                quote! {
                    let #reader = <#ty as ::skewless_guest::__private::Input<'_>>::reader(
                        &__skewless_input.columns[__skewless_offsets[#i]], #name, __skewless_rows)?;
                }
            }
            Argument::Group { ty } => quote! {
                let #reader = <#ty as ::skewless_guest::Aggregates>::reader(
                    &__skewless_input.columns[__skewless_offsets[#i]..__skewless_offsets[#i + 1]],
                    __skewless_rows,
                )?;
            },
        }
    });
    let reads = arguments.iter().enumerate().map(|(i, argument)| {
        let reader = format_ident!("__skewless_column_{}", i);
        let arg = format_ident!("__skewless_arg_{}", i);
        match argument {
            Argument::Column { name, ty } => {
                let ty = ty.tokens();
                quote! {
                    // SAFETY: `__skewless_row < __skewless_rows`, the row count every
                    // reader was checked for.
                    let #arg = match unsafe { <#ty as ::skewless_guest::__private::Input<'_>>::read(#reader, __skewless_row) } {
                        ::core::result::Result::Ok(value) => value,
                        ::core::result::Result::Err(_) => {
                            return ::core::result::Result::Err(
                                ::skewless_guest::__private::null_in(__skewless_row, #name));
                        }
                    };
                }
            }
            Argument::Group { ty } => quote! {
                // SAFETY: as above.
                let #arg = match unsafe { <#ty as ::skewless_guest::Aggregates>::read(#reader, __skewless_row) } {
                    ::core::result::Result::Ok(value) => value,
                    ::core::result::Result::Err(null) => {
                        return ::core::result::Result::Err(
                            ::skewless_guest::__private::null_in(__skewless_row, null.0));
                    }
                };
            },
        }
    });
    let args = (0..arguments.len()).map(|i| format_ident!("__skewless_arg_{}", i));
    let call = if fallible {
        quote! {
            match #function(#(#args),*) {
                ::core::result::Result::Ok(row) => ::core::result::Result::Ok(row),
                ::core::result::Result::Err(error) => ::core::result::Result::Err(
                    ::skewless_guest::__private::row_failed(__skewless_row, error)),
            }
        }
    } else {
        quote!(::core::result::Result::Ok(#function(#(#args),*)))
    };
    let count = arguments.len();
    quote! {
        let __skewless_widths: [usize; #count] = [#(#widths),*];
        let mut __skewless_offsets = [0_usize; #count + 1];
        for (i, width) in __skewless_widths.iter().enumerate() {
            __skewless_offsets[i + 1] = __skewless_offsets[i] + width;
        }
        let __skewless_rows = ::skewless_guest::__private::check_batch(
            &__skewless_input, __skewless_offsets[#count])?;
        #(#readers)*
        ::skewless_guest::__private::run_rows::<#features>(__skewless_rows, |__skewless_row: usize| {
            #(#reads)*
            #call
        })
    }
}

fn expand_features(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let ident = &input.ident;
    let vis = &input.vis;
    if !input.generics.params.is_empty() {
        return Err(Error::new(
            input.generics.span(),
            "a Features struct cannot be generic: its column types must be concrete",
        ));
    }
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) if !fields.named.is_empty() => &fields.named,
            Fields::Named(_) | Fields::Unit => {
                return Err(Error::new(
                    ident.span(),
                    "a Features struct needs at least one field, e.g. `struct MyFeatures { value: f64 }`",
                ));
            }
            Fields::Unnamed(fields) => {
                return Err(Error::new(
                    fields.span(),
                    "output columns are named after fields: use named fields, e.g. \
                     `struct MyFeatures { value: f64 }`",
                ));
            }
        },
        Data::Enum(data) => {
            return Err(Error::new(
                data.enum_token.span(),
                "Features is derived on a struct with one field per output column, not an enum",
            ));
        }
        Data::Union(data) => {
            return Err(Error::new(
                data.union_token.span(),
                "Features is derived on a struct with one field per output column, not a union",
            ));
        }
    };

    let mut names = Vec::new();
    let mut idents = Vec::new();
    let mut types = Vec::new();
    let mut errors = Errors::default();
    for field in fields {
        let field_ident = field.ident.as_ref().expect("named fields");
        if let Some(ty) = errors.take(column_type(&field.ty, Position::Field)) {
            names.push(column_name(field_ident));
            idents.push(field_ident);
            types.push(ty.tokens());
        }
    }
    errors.finish()?;
    let columns = format_ident!("__SkewlessColumnsOf{}", ident);

    Ok(quote! {
        const _: () = {
            #[doc(hidden)]
            #[allow(missing_debug_implementations, non_camel_case_types)]
            #vis struct #columns {
                #(#idents: <#types as ::skewless_guest::__private::Output>::Builder,)*
            }

            impl ::skewless_guest::Features for #ident {
                const FIELDS: &'static [::skewless_guest::Field] = &[
                    #(::skewless_guest::__private::output_field::<#types>(#names),)*
                ];
                type Columns = #columns;
            }

            impl ::skewless_guest::__private::FeatureColumns<#ident> for #columns {
                fn with_capacity(rows: usize) -> Self {
                    #columns {
                        #(#idents: <<#types as ::skewless_guest::__private::Output>::Builder as
                            ::skewless_guest::__private::ColumnBuilder<#types>>::with_capacity(rows),)*
                    }
                }

                #[inline(always)]
                unsafe fn push(&mut self, row: #ident) {
                    let #ident { #(#idents),* } = row;
                    // SAFETY: forwarded from the caller: every column has
                    // had as many pushes as the struct.
                    unsafe {
                        #(<<#types as ::skewless_guest::__private::Output>::Builder as
                            ::skewless_guest::__private::ColumnBuilder<#types>>::push(&mut self.#idents, #idents);)*
                    }
                }

                fn finish(self, rows: usize) -> ::skewless_guest::__private::Batch {
                    ::skewless_guest::__private::batch(rows, ::std::vec![
                        #(<<#types as ::skewless_guest::__private::Output>::Builder as
                            ::skewless_guest::__private::ColumnBuilder<#types>>::finish(self.#idents),)*
                    ])
                }
            }
        };
    })
}

/// Declares a function from an event's columns to its values (a
/// `Features` struct) as the events that `#[derive(Aggregates)]` structs
/// aggregate, with the columns the engine reads beside them.
///
/// ```text
/// #[events(key = "card_id", time = "ts")]
/// fn transaction(amount: Option<f64>, merchant: &str) -> Transaction { ... }
/// ```
///
/// `key = "name"` is a utf8 column (`"name: int64"` or `"name: int32"`
/// otherwise); `time` is the events' timestamp column; `request_time` the
/// requests' (default: the same name); `tie_break = "seq: int64"` orders
/// events of the same time; `event_id = "id"` (utf8, or `"id: int64"`)
/// identifies an event; `lateness = "1h"` is how late one may arrive.
#[proc_macro_attribute]
pub fn events(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut args = EventsArgs::default();
    let parser = syn::meta::parser(|meta| args.parse(meta));
    parse_macro_input!(attr with parser);
    let function = parse_macro_input!(item as ItemFn);
    match expand_events(args, &function) {
        Ok(tokens) => tokens.into(),
        Err(error) => {
            let error = error.to_compile_error();
            quote!(#function #error).into()
        }
    }
}

#[derive(Default)]
struct EventsArgs {
    key: Option<LitStr>,
    time: Option<LitStr>,
    request_time: Option<LitStr>,
    tie_break: Option<LitStr>,
    event_id: Option<LitStr>,
    lateness: Option<LitStr>,
}

impl EventsArgs {
    fn parse(&mut self, meta: syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
        let slot = match meta.path.get_ident().map(ToString::to_string).as_deref() {
            Some("key") => &mut self.key,
            Some("time") => &mut self.time,
            Some("request_time") => &mut self.request_time,
            Some("tie_break") => &mut self.tie_break,
            Some("event_id") => &mut self.event_id,
            Some("lateness") => &mut self.lateness,
            _ => {
                return Err(meta.error(
                    "unknown argument: `#[events]` takes `key = \"...\"`, `time = \"...\"`, and \
                     optionally `request_time`, `tie_break`, `event_id` and `lateness`",
                ));
            }
        };
        if slot.is_some() {
            return Err(meta.error("this argument is given twice"));
        }
        *slot = Some(meta.value()?.parse()?);
        Ok(())
    }
}

/// `"name"` or `"name: type"`: a column and the Rust type that reads it
/// (`default` when no type is written).
fn named_column(
    literal: &LitStr,
    default: &str,
    allowed: &[&str],
) -> syn::Result<(String, TokenStream2)> {
    let text = literal.value();
    let (name, type_name) = match text.split_once(':') {
        Some((name, type_name)) => (name.trim().to_string(), type_name.trim().to_string()),
        None => (text.trim().to_string(), default.to_string()),
    };
    if name.is_empty() {
        return Err(Error::new(literal.span(), "the column's name is empty"));
    }
    if !allowed.contains(&type_name.as_str()) {
        return Err(Error::new(
            literal.span(),
            format!(
                "`{type_name}` is not a type this column can have: write `\"{name}: T\"` with T \
                 one of {}",
                allowed.join(", ")
            ),
        ));
    }
    let ty = match type_name.as_str() {
        "utf8" => quote!(&'static str),
        "int32" => quote!(i32),
        "int64" => quote!(i64),
        "float32" => quote!(f32),
        "float64" => quote!(f64),
        "boolean" => quote!(bool),
        "timestamp" => quote!(::skewless_guest::Timestamp),
        "date" => quote!(::skewless_guest::Date),
        other => unreachable!("allowed above: {other}"),
    };
    Ok((name, ty))
}

/// `"90s"`, `"10m"`, `"1h"`, `"7d"`, `"2w"`, `"500ms"` as microseconds.
fn duration(literal: &LitStr, what: &str) -> syn::Result<i64> {
    let text = literal.value();
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let per_unit: i64 = match unit.trim() {
        "ms" => 1_000,
        "s" => 1_000_000,
        "m" => 60_000_000,
        "h" => 3_600_000_000,
        "d" => 86_400_000_000,
        "w" => 604_800_000_000,
        _ => 0,
    };
    match number
        .parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(per_unit))
    {
        Some(micros) if per_unit > 0 && (micros > 0 || what == "lateness") => Ok(micros),
        None if per_unit > 0
            && !number.is_empty()
            && number.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Err(Error::new(
                literal.span(),
                format!(
                    "a {what} of `{text}` is too long: it is kept in microseconds, in 64 bits, \
                     so at most about 292,000 years (`15250000w`)"
                ),
            ))
        }
        _ => Err(Error::new(
            literal.span(),
            format!(
                "a {what} is a {}whole number and a unit: `500ms`, `30s`, `10m`, `1h`, `7d`, `2w`",
                if what == "lateness" { "" } else { "positive " }
            ),
        )),
    }
}

fn expand_events(args: EventsArgs, function: &ItemFn) -> syn::Result<TokenStream2> {
    let key = args.key.as_ref().ok_or_else(|| {
        Error::new(
            Span::call_site(),
            "missing key: write `#[events(key = \"card_id\", time = \"ts\")]`",
        )
    })?;
    let time = args.time.as_ref().ok_or_else(|| {
        Error::new(
            Span::call_site(),
            "missing time column: write `#[events(key = \"...\", time = \"ts\")]`",
        )
    })?;
    let (key_name, key_type) = named_column(key, "utf8", &["utf8", "int32", "int64"])?;
    let time_name = time.value();
    let request_time = args
        .request_time
        .as_ref()
        .map_or_else(|| time_name.clone(), LitStr::value);
    let tie_break = match &args.tie_break {
        Some(literal) => {
            let (name, ty) = named_column(
                literal,
                "int64",
                &[
                    "utf8",
                    "int32",
                    "int64",
                    "float32",
                    "float64",
                    "boolean",
                    "timestamp",
                    "date",
                ],
            )?;
            quote!(::core::option::Option::Some(::skewless_guest::__private::column_field::<#ty>(#name)))
        }
        None => quote!(::core::option::Option::None),
    };
    let event_id = match &args.event_id {
        Some(literal) => {
            let (name, ty) = named_column(literal, "utf8", &["utf8", "int64"])?;
            quote!(::core::option::Option::Some(::skewless_guest::__private::column_field::<#ty>(#name)))
        }
        None => quote!(::core::option::Option::None),
    };
    let lateness = match &args.lateness {
        Some(literal) => duration(literal, "lateness")?,
        None => 0,
    };
    let signature = &function.sig;
    let mut errors = Errors::default();
    let arguments = arguments(signature, false, &mut errors);
    let shape = errors.take(return_shape(signature));
    errors.finish()?;
    let shape = shape.expect("no error");
    if arguments.is_empty() {
        return Err(Error::new(
            signature.paren_token.span.join(),
            "an events function reads at least one event column: add an argument such as \
             `amount: f64`",
        ));
    }
    let values = shape.features;
    let inputs = arguments.iter().map(|argument| match argument {
        Argument::Column { name, ty } => {
            let ty = ty.tokens();
            quote!(::skewless_guest::__private::input_field::<#ty>(#name))
        }
        Argument::Group { .. } => unreachable!("refused by `arguments`"),
    });
    let body = row_loop(&signature.ident, &arguments, values, shape.fallible);
    let source = format_ident!("__SkewlessEvents_{}", signature.ident);
    let vis = &function.vis;
    Ok(quote! {
        #function

        #[doc(hidden)]
        #[allow(non_camel_case_types, missing_debug_implementations)]
        #vis struct #source;

        impl ::skewless_guest::__private::EventSource for #source {
            const KEY: ::skewless_guest::Field =
                ::skewless_guest::__private::column_field::<#key_type>(#key_name);
            const TIME: &'static str = #time_name;
            const REQUEST_TIME: &'static str = #request_time;
            const TIE_BREAK: ::core::option::Option<::skewless_guest::Field> = #tie_break;
            const EVENT_ID: ::core::option::Option<::skewless_guest::Field> = #event_id;
            const LATENESS_MICROS: i64 = #lateness;
            const INPUTS: &'static [::skewless_guest::Field] = &[#(#inputs),*];
            type Values = #values;

            fn run(
                __skewless_input: ::skewless_guest::__private::Batch,
            ) -> ::core::result::Result<
                ::skewless_guest::__private::Batch,
                ::skewless_guest::__private::TransformError,
            > {
                #body
            }
        }
    })
}

/// Declares a struct whose fields are aggregates of events.
///
/// ```text
/// #[derive(Aggregates)]
/// #[aggregates(events = transaction)]
/// struct Velocity {
///     #[aggregate(count, window = "1h")]
///     tx_count_1h: i64,
///     #[aggregate(mean(amount), window = "7d")]
///     amount_mean_7d: Option<f64>,
/// }
/// ```
#[proc_macro_derive(Aggregates, attributes(aggregates, aggregate))]
pub fn derive_aggregates(item: TokenStream) -> TokenStream {
    let input = parse_macro_input!(item as DeriveInput);
    match expand_aggregates(&input) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

/// One `#[aggregate(...)]`.
struct AggregateAttr {
    /// The function's name, e.g. `mean`.
    name: String,
    function: TokenStream2,
    value: Option<syn::Ident>,
    filter: Option<syn::Ident>,
    window: i64,
}

impl AggregateAttr {
    /// Stands in for an attribute that did not parse, so that the struct
    /// still implements `Aggregates` and its error is the only one.
    fn placeholder() -> Self {
        AggregateAttr {
            name: String::new(),
            function: quote!(Count),
            value: None,
            filter: None,
            window: 1,
        }
    }
}

/// The field of an aggregate that is null over a window with no events
/// (or no values) is an `Option`; one that is never null is not.
fn nullability(function: &str, ty: &Type) -> syn::Result<()> {
    let optional = last_segment(ty).is_some_and(|s| s.ident == "Option");
    let may_be_null = matches!(
        function,
        "mean" | "min" | "max" | "first" | "last" | "seconds_since_last"
    );
    let never_null = matches!(function, "count" | "count_distinct" | "sum");
    if may_be_null && !optional {
        Err(Error::new_spanned(
            ty,
            format!(
                "`{function}` is null over a window with no events (or no values): declare the \
                 field `Option<{}>`",
                quote!(#ty)
            ),
        ))
    } else if never_null && optional {
        Err(Error::new_spanned(
            ty,
            format!(
                "`{function}` is never null (0 over a window with no events): declare the field \
                 without `Option`"
            ),
        ))
    } else {
        Ok(())
    }
}

fn parse_aggregate(attr: &syn::Attribute, field: &syn::Field) -> syn::Result<AggregateAttr> {
    let mut function = None;
    let mut function_name = String::new();
    let mut value = None;
    let mut filter = None;
    let mut window = None;
    attr.parse_nested_meta(|meta| {
        if meta.path.is_ident("window") {
            let literal: LitStr = meta.value()?.parse()?;
            window = Some(duration(&literal, "window")?);
            return Ok(());
        }
        if meta.path.is_ident("filter") {
            filter = Some(meta.value()?.parse::<syn::Ident>()?);
            return Ok(());
        }
        let name = meta
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        let known = [
            "count",
            "sum",
            "mean",
            "min",
            "max",
            "count_distinct",
            "first",
            "last",
            "seconds_since_last",
            "last_n",
        ];
        if !known.contains(&name.as_str()) {
            return Err(meta.error(
                "unknown aggregate: write count, sum(v), mean(v), min(v), max(v), \
                 count_distinct(v), first(v), last(v), seconds_since_last or last_n(v, n), \
                 then `window = \"24h\"`",
            ));
        }
        if function.is_some() {
            return Err(meta.error("one function an aggregate"));
        }
        function_name.clone_from(&name);
        let mut n = None;
        if meta.input.peek(syn::token::Paren) {
            let content;
            syn::parenthesized!(content in meta.input);
            let ident: syn::Ident = content.parse()?;
            value = Some(ident);
            if content.peek(syn::Token![,]) {
                content.parse::<syn::Token![,]>()?;
                let count: syn::LitInt = content.parse()?;
                n = Some(count.base10_parse::<u32>()?);
            }
        }
        let needs_value = !matches!(name.as_str(), "count" | "seconds_since_last");
        if needs_value && value.is_none() {
            return Err(meta.error(format!(
                "`{name}` reads an event value: write `{name}(value)`"
            )));
        }
        if name == "seconds_since_last" && value.is_some() {
            return Err(meta.error("`seconds_since_last` reads no value (it counts events)"));
        }
        function = Some(match name.as_str() {
            "count" => quote!(Count),
            "sum" => quote!(Sum),
            "mean" => quote!(Mean),
            "min" => quote!(Min),
            "max" => quote!(Max),
            "count_distinct" => quote!(CountDistinct),
            "first" => quote!(First),
            "last" => quote!(Last),
            "seconds_since_last" => quote!(SecondsSinceLast),
            _ => match n {
                Some(n) if n > 0 => quote!(LastN(#n)),
                _ => return Err(meta.error("write `last_n(value, n)` with n > 0")),
            },
        });
        Ok(())
    })?;
    let function = function.ok_or_else(|| {
        Error::new_spanned(
            attr,
            "name the function: `#[aggregate(count, window = \"1h\")]`",
        )
    })?;
    let window = window.ok_or_else(|| {
        Error::new_spanned(
            attr,
            format!(
                "`{}` needs its window: add `window = \"24h\"` (events in the 24 hours before \
                 the request count)",
                field
                    .ident
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            ),
        )
    })?;
    Ok(AggregateAttr {
        name: function_name,
        function,
        value,
        filter,
        window,
    })
}

fn expand_aggregates(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let ident = &input.ident;
    if !input.generics.params.is_empty() {
        return Err(Error::new(
            input.generics.span(),
            "a struct of aggregates cannot be generic",
        ));
    }
    let mut events = None;
    for attr in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("aggregates"))
    {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("events") {
                events = Some(meta.value()?.parse::<syn::Path>()?);
                Ok(())
            } else {
                Err(meta.error("write `#[aggregates(events = my_events_function)]`"))
            }
        })?;
    }
    let events = events.ok_or_else(|| {
        Error::new(
            ident.span(),
            "name the events it aggregates: add `#[aggregates(events = my_events)]`, where \
             `my_events` is an `#[events]` function",
        )
    })?;
    let mut source = events.clone();
    let last = source.segments.last_mut().expect("a path has a segment");
    last.ident = format_ident!("__SkewlessEvents_{}", last.ident);
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) if !fields.named.is_empty() => &fields.named,
            _ => {
                return Err(Error::new(
                    ident.span(),
                    "aggregates are the named fields of a struct, e.g. \
                     `struct Velocity { #[aggregate(count, window = \"1h\")] tx_count_1h: i64 }`",
                ));
            }
        },
        _ => {
            return Err(Error::new(
                ident.span(),
                "Aggregates is derived on a struct with one field per aggregate",
            ));
        }
    };
    let mut errors = Errors::default();
    let mut attribute_errors = Errors::default();
    let mut names = Vec::new();
    let mut idents = Vec::new();
    let mut types = Vec::new();
    let mut declarations = Vec::new();
    let mut checks = Vec::new();
    for field in fields {
        let field_ident = field.ident.as_ref().expect("named fields");
        let attrs: Vec<&syn::Attribute> = field
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("aggregate"))
            .collect();
        let Some(attr) = attrs.first() else {
            errors.take::<()>(Err(Error::new(
                field_ident.span(),
                "every field is an aggregate: add `#[aggregate(count, window = \"1h\")]` (or \
                 another function)",
            )));
            continue;
        };
        let ty = errors.take(column_type(&field.ty, Position::Argument));
        // An attribute's mistake is said alone: the struct still gets its
        // impl (with a stand-in), so uses of it raise no errors of their own.
        let parsed = match parse_aggregate(attr, field) {
            Ok(parsed) => {
                attribute_errors.take(nullability(&parsed.name, &field.ty));
                parsed
            }
            Err(error) => {
                attribute_errors.take::<()>(Err(error));
                AggregateAttr::placeholder()
            }
        };
        let Some(ty) = ty else { continue };
        let name = column_name(field_ident);
        let function = parsed.function;
        let window = parsed.window;
        let value = match &parsed.value {
            Some(value) => {
                let text = value.to_string();
                // Where the function reads numbers, the field's type is
                // checked here, in Rust's words at the attribute, rather
                // than refused when the built component is loaded.
                checks.push(match parsed.name.as_str() {
                    "sum" => quote_spanned!(value.span()=> __skewless_sum(&values.#value);),
                    "mean" => quote_spanned!(value.span()=> __skewless_mean(&values.#value);),
                    _ => quote!(let _ = &values.#value;),
                });
                quote!(::core::option::Option::Some(#text))
            }
            None => quote!(::core::option::Option::None),
        };
        let filter = match &parsed.filter {
            Some(filter) => {
                let text = filter.to_string();
                checks.push(quote_spanned!(filter.span()=> __skewless_filter(&values.#filter);));
                quote!(::core::option::Option::Some(#text))
            }
            None => quote!(::core::option::Option::None),
        };
        declarations.push(quote! {
            ::skewless_guest::__private::AggregateDecl {
                name: #name,
                function: ::skewless_guest::__private::Function::#function,
                value: #value,
                filter: #filter,
                window_micros: #window,
            }
        });
        names.push(name);
        idents.push(field_ident);
        types.push(ty.tokens());
    }
    if errors.0.is_some()
        && let Some(error) = attribute_errors.0.take()
    {
        errors.take::<()>(Err(error));
    }
    errors.finish()?;
    let indices = (0..idents.len()).map(syn::Index::from);
    let readers = types.iter().zip(&names).enumerate().map(|(i, (ty, name))| {
        quote!(<#ty as ::skewless_guest::__private::Input<'a>>::reader(&columns[#i], #name, rows)?)
    });
    let reads = types.iter().zip(&names).zip(indices).zip(&idents).map(|(((ty, name), index), ident)| {
        quote! {
            #ident: match unsafe { <#ty as ::skewless_guest::__private::Input<'_>>::read(reader.#index, row) } {
                ::core::result::Result::Ok(value) => value,
                ::core::result::Result::Err(_) => {
                    return ::core::result::Result::Err(::skewless_guest::__private::NullIn(#name));
                }
            },
        }
    });
    let count = idents.len();
    let attribute_errors = attribute_errors.0.map(|error| error.to_compile_error());
    // What a filter, a sum and a mean read, checked where the attribute
    // names it, in Rust's words (with names no user item has). Defined
    // here, in the transform's crate,
    // rather than in the SDK: an impl added to the SDK changes the bytes,
    // and so the sha256, of every component built with it.
    let type_checks = quote! {
        #[diagnostic::on_unimplemented(
            message = "an aggregate's filter is a `bool` field of the events' values, not `{Self}`",
            label = "not a `bool`",
            note = "compute the condition as a `bool` field in the `#[events]` function (e.g. \
                    `declined: declined == Some(true)`), and filter on that field"
        )]
        trait __SkewlessFilter {}
        impl __SkewlessFilter for bool {}
        #[diagnostic::on_unimplemented(
            message = "`sum` adds numbers, and this field of the events' values is `{Self}`",
            label = "not a number",
            note = "`sum` reads an i32, i64, f32, f64 or Decimal<P, S> field, or an Option of \
                    one (nulls are left out)"
        )]
        trait __SkewlessSum {}
        #[diagnostic::on_unimplemented(
            message = "`mean` averages integers or floats, and this field of the events' values \
                       is `{Self}`",
            label = "not an integer or a float",
            note = "`mean` reads an i32, i64, f32 or f64 field, or an Option of one (nulls are \
                    left out)"
        )]
        trait __SkewlessMean {}
        impl __SkewlessSum for i32 {}
        impl __SkewlessSum for i64 {}
        impl __SkewlessSum for f32 {}
        impl __SkewlessSum for f64 {}
        impl __SkewlessSum for ::core::option::Option<i32> {}
        impl __SkewlessSum for ::core::option::Option<i64> {}
        impl __SkewlessSum for ::core::option::Option<f32> {}
        impl __SkewlessSum for ::core::option::Option<f64> {}
        impl<const P: u8, const S: u8> __SkewlessSum for ::skewless_guest::Decimal<P, S> {}
        impl<const P: u8, const S: u8> __SkewlessSum
            for ::core::option::Option<::skewless_guest::Decimal<P, S>> {}
        impl __SkewlessMean for i32 {}
        impl __SkewlessMean for i64 {}
        impl __SkewlessMean for f32 {}
        impl __SkewlessMean for f64 {}
        impl __SkewlessMean for ::core::option::Option<i32> {}
        impl __SkewlessMean for ::core::option::Option<i64> {}
        impl __SkewlessMean for ::core::option::Option<f32> {}
        impl __SkewlessMean for ::core::option::Option<f64> {}
        #[allow(dead_code)]
        fn __skewless_filter<T: __SkewlessFilter>(_: &T) {}
        #[allow(dead_code)]
        fn __skewless_sum<T: __SkewlessSum>(_: &T) {}
        #[allow(dead_code)]
        fn __skewless_mean<T: __SkewlessMean>(_: &T) {}
    };
    Ok(quote! {
        #attribute_errors
        const _: () = {
            #type_checks
            // The values and filters are fields of the events' values.
            #[allow(dead_code)]
            fn __skewless_check(
                values: &<#source as ::skewless_guest::__private::EventSource>::Values,
            ) {
                #(#checks)*
            }

            impl ::skewless_guest::Aggregates for #ident {
                type Events = #source;
                const FIELDS: &'static [::skewless_guest::Field] = &[
                    #(::skewless_guest::__private::input_field::<#types>(#names),)*
                ];
                const AGGREGATES: &'static [::skewless_guest::__private::AggregateDecl] = &[
                    #(#declarations,)*
                ];
                type Reader<'a> = (#(<#types as ::skewless_guest::__private::Input<'a>>::Reader,)*);

                fn reader<'a>(
                    columns: &'a [::skewless_guest::__private::Column],
                    rows: usize,
                ) -> ::core::result::Result<Self::Reader<'a>, ::skewless_guest::__private::TransformError> {
                    if columns.len() != #count {
                        return ::core::result::Result::Err(
                            ::skewless_guest::__private::TransformError::InvalidInput(
                                ::std::format!("expected {} aggregate columns, got {}", #count, columns.len())));
                    }
                    ::core::result::Result::Ok((#(#readers,)*))
                }

                #[inline(always)]
                unsafe fn read(
                    reader: Self::Reader<'_>,
                    row: usize,
                ) -> ::core::result::Result<Self, ::skewless_guest::__private::NullIn> {
                    // SAFETY: forwarded from the caller.
                    ::core::result::Result::Ok(#ident { #(#reads)* })
                }
            }
        };
    })
}
