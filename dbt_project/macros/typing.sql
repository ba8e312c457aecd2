{# Amazon amounts are decimal strings; anything else is NULL here and a quarantine reason in the base model.
   '' needs no nullif first: it is not a decimal (nor a timestamp), so try_cast already makes it NULL. #}
{% macro to_amount(expr) -%}
    try_cast({{ expr }} as decimal(18, 4))
{%- endmacro %}

{% macro to_utc(expr) -%}
    try_cast({{ expr }} as timestamptz)
{%- endmacro %}

{# Why an amount cannot be typed, or NULL when it can (or is absent, or ''). The cast is tested first: it is what
   every amount goes through anyway, and the text is looked at only when the cast failed. #}
{% macro amount_problem(expr, label) -%}
    case when {{ to_amount(expr) }} is null and {{ expr }} <> '' then
        case when try_cast({{ expr }} as double) is not null then '{{ label }} amount out of range: '
             else 'non-numeric {{ label }} amount: ' end || {{ expr }}
    end
{%- endmacro %}

{# The sum of an item's proceeds breakdowns of one type (ITEM, TAX, SHIPPING, DISCOUNT...), NULL when none. #}
{% macro breakdown_sum(item, type) -%}
    list_sum(list_transform({{ item }}.proceeds.breakdowns,
                            lambda b: case when b.type = '{{ type }}' then {{ to_amount('b.subtotal.amount') }} end))
{%- endmacro %}

{# The smallest unit of a currency: 1 for the zero-decimal currencies (JPY among Amazon's), 0.01 for the rest. #}
{% macro minor_unit(currency) -%}
    case when {{ currency }} in ('JPY', 'KRW', 'CLP', 'ISK', 'VND') then 1 else 0.01 end
{%- endmacro %}
